# lib-image.sh - the real root file system that the demo and the benchmark
# deploy: Debian bookworm minbase, made with debootstrap from the apt
# mirror of /etc/apt, once, and cached outside the tree (root needed).
#
#   debian_root DIR [MIRROR]   makes DIR unless it is complete already
#
# Needs debootstrap (make deps).  About 127 MB and 6,700 entries; a
# minute or two the first time.  The apt caches of the build are removed
# (no place in an image).  DIR/.swarmimager-root-complete marks a finished
# tree and is no part of the image (tarballs exclude it).

SI_ROOT_MARK=.swarmimager-root-complete

# debian_mirror: the first non-security mirror of /etc/apt.
debian_mirror() {
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk '/^deb / && $2 ~ /^https?:/ && $2 !~ /security/ { print $2; exit }
		     /^URIs:/ && $2 !~ /security/ { print $2; exit }' | grep . ||
		echo http://deb.debian.org/debian
}

debian_root() {
	local tree=$1 m=${2:-} log
	# An older cache marked its trees with another name.
	[ ! -e "$tree/.swarmimager-demo-complete" ] ||
		mv "$tree/.swarmimager-demo-complete" "$tree/$SI_ROOT_MARK"
	[ -e "$tree/$SI_ROOT_MARK" ] && return 0
	command -v debootstrap >/dev/null || { echo "no debootstrap (make deps)" >&2; return 1; }
	[ -n "$m" ] || m=$(debian_mirror)
	log="$(dirname "$tree")/debootstrap.log"
	mkdir -p "$(dirname "$tree")" || return 1
	echo "debootstrap --variant=minbase bookworm from $m into $tree (once; log in $log)" >&2
	rm -rf "$tree.tmp" &&
	debootstrap --variant=minbase bookworm "$tree.tmp" "$m" >"$log" 2>&1 || {
		echo "debootstrap failed (see $log)" >&2; rm -rf "$tree.tmp"; return 1; }
	rm -rf "$tree.tmp"/var/cache/apt/archives/*.deb "$tree.tmp"/var/lib/apt/lists/*_* &&
	touch "$tree.tmp/$SI_ROOT_MARK" &&
	rm -rf "$tree" && mv "$tree.tmp" "$tree"
}

# A bootable golden client: the same bookworm minbase plus a kernel,
# systemd, udev, OpenSSH and GRUB for both firmware types, set up to boot
# to multi-user on the serial console.  Cached like debian_root.
#
#   debian_boot_root DIR [MIRROR]   makes DIR unless it is complete already
#
# About 300 MB; a minute or more the first time.  What a real golden client
# has is there: a machine-id, SSH host keys, a host name ("gold"); what
# would tie it to the build host is not: /etc/fstab is a comment (si_boel
# writes the node's), /etc/hostname and /etc/resolv.conf are not the
# host's, no resume device
# in the initramfs.  GRUB's files in /etc/default/grub put GRUB and the
# kernel on ttyS0 at 115200 with no menu delay; systemd-networkd asks for
# DHCP on en* and eth*.  No root password: the tests read the console.
SI_BOOT_PACKAGES=linux-image-cloud-amd64,systemd-sysv,udev,openssh-server,grub-pc-bin,grub-efi-amd64-bin,grub2-common,dosfstools,efibootmgr

debian_boot_root() {
	local tree=$1 m=${2:-} log t
	[ -e "$tree/$SI_ROOT_MARK" ] && return 0
	command -v debootstrap >/dev/null || { echo "no debootstrap (make deps)" >&2; return 1; }
	[ -n "$m" ] || m=$(debian_mirror)
	log="$(dirname "$tree")/debootstrap-boot.log"
	t=$tree.tmp
	mkdir -p "$(dirname "$tree")" || return 1
	echo "debootstrap --variant=minbase --include=$SI_BOOT_PACKAGES bookworm from $m into $tree (once; log in $log)" >&2
	rm -rf "$t" &&
	debootstrap --variant=minbase --include="$SI_BOOT_PACKAGES" bookworm \
		"$t" "$m" >"$log" 2>&1 || {
		echo "debootstrap failed (see $log)" >&2; rm -rf "$t"; return 1; }
	boot_root_setup "$t" >>"$log" 2>&1 || {
		echo "setting up $t failed (see $log)" >&2; return 1; }
	boot_root_trim "$t" &&
	touch "$t/$SI_ROOT_MARK" &&
	rm -rf "$tree" && mv "$t" "$tree" &&
	echo "$tree: $(du -sm --exclude=proc --exclude=sys "$tree" | cut -f1) MB" >&2
}

# boot_root_setup DIR: the configuration that makes DIR boot on a serial
# console, and the identity of a golden client.
boot_root_setup() {
	local t=$1
	echo gold >"$t/etc/hostname" &&
	printf '127.0.0.1\tlocalhost\n127.0.1.1\tgold\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$t/etc/hosts" &&
	echo "# written by si_boel on each node from the disk layout" >"$t/etc/fstab" &&
	: >"$t/etc/resolv.conf" &&
	cat >"$t/etc/default/grub" <<-'GRUB' &&
	GRUB_DEFAULT=0
	GRUB_TIMEOUT=0
	GRUB_DISTRIBUTOR=`( . /etc/os-release; echo ${NAME:-Debian} ) 2>/dev/null || echo Debian`
	GRUB_CMDLINE_LINUX_DEFAULT=""
	GRUB_CMDLINE_LINUX="console=ttyS0,115200 systemd.show_status=1"
	GRUB_TERMINAL=serial
	GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
	GRUB_DISABLE_OS_PROBER=true
	GRUB
	mkdir -p "$t/etc/systemd/network" &&
	cat >"$t/etc/systemd/network/50-dhcp.network" <<-'NET' &&
	[Match]
	Name=en* eth*

	[Network]
	DHCP=yes
	NET
	chroot "$t" systemctl enable systemd-networkd.service &&
	# Nothing waits for a network that the tests do not give.
	chroot "$t" systemctl mask systemd-networkd-wait-online.service &&
	echo "RESUME=none" >"$t/etc/initramfs-tools/conf.d/resume" &&
	chroot "$t" update-initramfs -u -k all &&
	if [ ! -s "$t/etc/machine-id" ]; then
		rm -f "$t/etc/machine-id" && chroot "$t" systemd-machine-id-setup
	fi &&
	chroot "$t" ssh-keygen -A &&
	test -s "$t/etc/ssh/ssh_host_ed25519_key" &&
	test -d "$t/usr/lib/grub/i386-pc" && test -d "$t/usr/lib/grub/x86_64-efi"
}

# boot_root_trim DIR: no apt caches, documentation or manual pages.
boot_root_trim() {
	local t=$1
	rm -rf "$t"/var/cache/apt/*.bin "$t"/var/cache/apt/archives/*.deb \
		"$t"/var/lib/apt/lists/*_* "$t"/usr/share/doc/* "$t"/usr/share/man/* \
		"$t"/usr/share/info/* "$t"/var/log/*.log "$t"/var/cache/debconf/*-old \
		"$t"/tmp/* &&
	find "$t/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' \
		-exec rm -rf {} +
}
