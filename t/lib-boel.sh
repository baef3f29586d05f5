# lib-boel.sh - helpers for the boot environment tests (t8xxx): build the
# BOEL environment with mkboel, a namespace with a bridge, servers on it,
# and qemu VMs attached through tap devices.  Source after test-lib.sh.
#
# All of it is cleaned up by the exit trap: VMs killed by PID, the namespace
# (with its bridge and taps) deleted, loop devices detached.

MKBOEL_CACHE=${SI_MKBOEL_CACHE:-/var/cache/swarmimager/mkboel}
BOEL_NET=10.80.0
BOEL_SERVER=$BOEL_NET.1
# Software emulation: /dev/kvm may exist yet not work (nested guests).
QEMU_ACCEL=${SI_QEMU_ACCEL:-tcg}

# boel_build DIR [MKBOEL OPTIONS]: builds vmlinuz and initrd.img into DIR.
boel_build() {
	local dir=$1; shift
	mkdir -p "$dir" &&
	mkboel -o "$dir" --cache "$MKBOEL_CACHE" "$@" >"$dir/mkboel.out" 2>"$dir/mkboel.err" || {
		cat "$dir/mkboel.err" >&2
		return 1
	}
}

# boel_netns: creates namespace $BOEL_NS with bridge br0 at $BOEL_SERVER/24,
# IPv6 off, no route out.
boel_netns() {
	BOEL_NS=si8-$TEST_UID-$$
	ip netns add "$BOEL_NS" || return 1
	test_atexit "ip netns del $BOEL_NS"
	ip netns exec "$BOEL_NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 &&
	ip -n "$BOEL_NS" link set lo up &&
	ip -n "$BOEL_NS" link add br0 type bridge stp_state 0 forward_delay 0 &&
	ip -n "$BOEL_NS" addr add "$BOEL_SERVER/24" dev br0 &&
	ip -n "$BOEL_NS" link set br0 up
}

# in_ns CMD...: runs CMD inside the namespace.
in_ns() { ip netns exec "$BOEL_NS" "$@"; }

# ns_listening PORT: true when something listens on PORT in the namespace.
ns_listening() { in_ns ss -Hltn "sport = :$1" | grep -q .; }

# boel_http DIR: serves DIR over HTTP at $BOEL_SERVER:8080.
boel_http() {
	start_bg http ip netns exec "$BOEL_NS" python3 -m http.server --bind "$BOEL_SERVER" \
		--directory "$1" 8080 &&
	wait_for 20 ns_listening 8080
}

# boel_rsyncd DIR: serves DIR as rsync module "data" at $BOEL_SERVER:873.
boel_rsyncd() {
	cat >"$TRASH/rsyncd.conf" <<-EOF
	use chroot = no
	address = $BOEL_SERVER
	port = 873
	log file = $TRASH/rsyncd.log
	[data]
	path = $1
	read only = yes
	uid = root
	gid = root
	EOF
	start_bg rsyncd ip netns exec "$BOEL_NS" rsync --daemon --no-detach --config="$TRASH/rsyncd.conf" &&
	wait_for 20 ns_listening 873
}

# boel_dhcpd: busybox udhcpd (from the cached busybox-static package) on
# br0, leases .100 to .150.
boel_dhcpd() {
	local deb
	deb=$(ls -1 "$MKBOEL_CACHE"/busybox-static_*.deb | sort -V | tail -n 1) &&
	dpkg-deb -x "$deb" "$TRASH/bb" || return 1
	cat >"$TRASH/udhcpd.conf" <<-EOF
	start $BOEL_NET.100
	end $BOEL_NET.150
	interface br0
	lease_file $TRASH/udhcpd.leases
	pidfile $TRASH/udhcpd.pid
	option subnet 255.255.255.0
	option lease 600
	EOF
	: >"$TRASH/udhcpd.leases"
	start_bg udhcpd ip netns exec "$BOEL_NS" "$TRASH/bb/bin/busybox" udhcpd -f "$TRASH/udhcpd.conf" &&
	wait_for 10 test -s "$TRASH/udhcpd.pid"
}

# boel_mac INDEX: the MAC address of VM INDEX (unique to this test run).
boel_mac() {
	printf '52:54:00:%02x:%02x:%02x' $((0x$TEST_UID >> 8 & 255)) $((0x$TEST_UID & 255)) "$1"
}

# boel_tap TAP: a tap device on br0 (kept when it exists: a VM powered on
# again keeps its port).
boel_tap() {
	in_ns ip link show "$1" >/dev/null 2>&1 && return 0
	in_ns ip tuntap add dev "$1" mode tap &&
	in_ns ip link set "$1" master br0 up
}

# pxe_vm_start NAME INDEX DISK bios|uefi ipxe|firmware: powers on a VM
# whose boot order is its network card, then DISK, as a machine of a
# cluster set up for network boot is (BIOS: qemu's boot order; UEFI: the
# firmware's, the disk first while it holds nothing, and BOEL keeps the
# network first).  uefi: OVMF, with its variables in
# DISK.vars (kept from one power-on to the next, made on the first);
# ipxe: the card's option ROM is iPXE (qemu's), firmware: no option ROM,
# so the firmware's own PXE loads iPXE by TFTP (UEFI only: SeaBIOS has
# none).  Console in NAME.log, PID in NAME.pid, bounded by
# $BOEL_VM_TIMEOUT s, $BOEL_VM_MEM MB.
OVMF_CODE=${SI_OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}
OVMF_VARS=${SI_OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}
pxe_vm_start() {
	local name=$1 idx=$2 disk=$3 fw=$4 rom=$5 romarg= args=()
	local nic=,bootindex=1 blk=,bootindex=2
	if [ "$fw" = uefi ]; then
		[ -e "$disk.vars" ] || cp "$OVMF_VARS" "$disk.vars" || return 1
		args=(-drive "if=pflash,format=raw,readonly=on,file=$OVMF_CODE"
		      -drive "if=pflash,format=raw,file=$disk.vars")
		# The boot order is the firmware's own (BootOrder), as on a
		# real machine: qemu's bootindex would rewrite it every boot.
		nic= blk=
	fi
	[ "$rom" = ipxe ] || romarg=,romfile=
	boel_tap "tap$idx" || return 1
	date +%s%N >"$TRASH/$name.start"
	start_bg "$name" timeout -k 5 "${BOEL_VM_TIMEOUT:-120}" ip netns exec "$BOEL_NS" \
		qemu-system-x86_64 -machine q35 -accel "$QEMU_ACCEL" -m "${BOEL_VM_MEM:-512}" \
		-nographic -no-reboot -nodefaults -serial stdio "${args[@]}" \
		-drive "file=$disk,if=none,id=d0,format=raw" \
		-device "virtio-blk-pci,drive=d0$blk" \
		-netdev "tap,id=n0,ifname=tap$idx,script=no,downscript=no" \
		-device "virtio-net-pci,netdev=n0,mac=$(boel_mac "$idx")$nic$romarg"
}

# boel_vm_start NAME INDEX DISK APPEND...: boots the environment in $BOEL_DIR
# with DISK as virtio disk, a tap on br0, MAC ending in INDEX, and the
# given kernel command line words; console in NAME.log; PID in NAME.pid.
# A hard timeout of $BOEL_VM_TIMEOUT s (120) kills a VM that does not power
# off; it gets $BOEL_VM_MEM MB of memory (512) and the qemu arguments in
# $BOEL_VM_ARGS (e.g. UEFI firmware flash drives).
boel_vm_start() {
	local name=$1 idx=$2 disk=$3; shift 3
	local tap=tap$idx mac
	mac=$(boel_mac "$idx")
	boel_tap "$tap" || return 1
	date +%s%N >"$TRASH/$name.start"
	start_bg "$name" timeout -k 5 "${BOEL_VM_TIMEOUT:-120}" ip netns exec "$BOEL_NS" \
		qemu-system-x86_64 -machine q35 -accel "$QEMU_ACCEL" -m "${BOEL_VM_MEM:-512}" \
		-nographic -no-reboot -nodefaults -serial stdio \
		-kernel "$BOEL_DIR/vmlinuz" -initrd "$BOEL_DIR/initrd.img" \
		-append "console=ttyS0 quiet panic=-1 $*" \
		-drive "file=$disk,if=virtio,format=raw" ${BOEL_VM_ARGS-} \
		-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" \
		-device "virtio-net-pci,netdev=n0,mac=$mac,romfile="
}

# boel_vm_wait NAME...: waits for the VMs to end by themselves (bounded by
# their timeout); fails unless each qemu exited 0.  Writes the seconds each
# ran, from start to its exit, to NAME.secs.
boel_vm_wait() {
	local name pid rc=0 left=("$@") now i
	# Poll so each VM's end is timed when it happens, not when waited for.
	for i in $(seq 1 1400); do
		[ "${#left[@]}" -gt 0 ] || break
		local still=()
		now=$(date +%s%N)
		for name in "${left[@]}"; do
			if kill -0 "$(cat "$TRASH/$name.pid")" 2>/dev/null; then
				still+=("$name")
			else
				echo "$now $(cat "$TRASH/$name.start")" |
					awk '{printf "%.1f\n", ($1 - $2) / 1e9}' >"$TRASH/$name.secs"
			fi
		done
		left=(${still[@]+"${still[@]}"})
		[ "${#left[@]}" -eq 0 ] || sleep 0.1
	done
	for name in "$@"; do
		pid=$(cat "$TRASH/$name.pid")
		wait "$pid" || {
			echo "VM $name: exit $? (124: timed out); console:" >&2
			tail -n 40 "$TRASH/$name.log" >&2
			rc=1
		}
	done
	return $rc
}

# disk_attach IMAGE: attaches IMAGE to a loop device with its partitions,
# sets DISK_DEV to the device; detached at exit.  (Not in a $(...): the
# cleanup must be registered in this shell.)
disk_attach() {
	DISK_DEV=$(losetup -P --show -f "$1") || return 1
	test_atexit "losetup -d $DISK_DEV"
	# The kernel's partition scan may lag, or not register the partitions
	# at all (seen in sandboxes): then add them with partx.
	wait_for 1 test -b "${DISK_DEV}p1" ||
		partx -a "$DISK_DEV" 2>/dev/null
	wait_for 5 test -b "${DISK_DEV}p1"
}
