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
