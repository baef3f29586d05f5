#!/bin/bash
test_description='si_mkbootserver and si_mkclientnetboot without VMs: the real dnsmasq it supervises (TFTP of the iPXE loaders, restarted when it dies), each node'"'"'s script over HTTP as its state says, reports, unknown nodes, bad input'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-boel.sh"

require_root
require_cmd ip dnsmasq python3 dpkg-deb si_mkbootserver si_mkclientnetboot
[ -r /usr/lib/ipxe/undionly.kpxe ] && [ -r /usr/lib/ipxe/snponly.efi ] ||
	skip_all "needs iPXE (package ipxe)"
ls "$MKBOEL_CACHE"/busybox-static_*.deb >/dev/null 2>&1 ||
	skip_all "needs busybox-static in $MKBOEL_CACHE (run t8000 or mkboel once)"

B=$TRASH/base
URL=http://$BOEL_SERVER:8070

# get PATH: the HTTP body from the boot server (python3's client, inside
# the namespace); fails on a status other than 200.
get() {
	in_ns python3 -c '
import sys, urllib.request
sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1], timeout=10).read())' "$URL$1"
}

test_expect_success 'setup: a namespace, BOEL files, a cluster table with MACs' '
	boel_netns &&
	mkdir -p "$B/boot" "$B/scripts" &&
	head -c 100000 /dev/urandom >"$B/boot/vmlinuz" &&
	head -c 300000 /dev/urandom >"$B/boot/initrd.img" &&
	cat >"$B/scripts/cluster.txt" <<-EOF &&
	# host:group:image:override:MAC[:IPV4]
	*:::site
	n1:compute:img::52:54:00:00:00:01:$BOEL_NET.21
	n2:compute:img::52-54-00-00-00-02
	n3:compute:img
	EOF
	deb=$(ls -1 "$MKBOEL_CACHE"/busybox-static_*.deb | sort -V | tail -n 1) &&
	dpkg-deb -x "$deb" bb
'

test_expect_success 'bad options and missing parts: exit 2 or 1, with a message' '
	expect_exit 2 si_mkbootserver --base "$B" 2>err && grep "needs\|needed" err &&
	expect_exit 1 in_ns si_mkbootserver --base "$B" -i nosuch0 2>err &&
	grep "no network interface .nosuch0." err &&
	expect_exit 2 in_ns si_mkbootserver --base "$B" -i br0 --dhcp-range 10.0.0.1 2>err &&
	grep "invalid DHCP range" err &&
	expect_exit 2 in_ns si_mkbootserver --base "$B" -i br0 --proxy --dhcp-range 10.0.0.1,10.0.0.2 2>err &&
	expect_exit 2 in_ns si_mkbootserver --base "$B" -i br0 --default-boot sometimes 2>err &&
	expect_exit 1 in_ns si_mkbootserver --base "$B" -i br0 --boel "$TRASH/none" 2>err &&
	grep "no BOEL vmlinuz in" err &&
	expect_exit 1 in_ns si_mkbootserver --base "$B" -i br0 --ipxe-dir "$TRASH/none" 2>err &&
	grep "no iPXE loader" err &&
	cp "$B/scripts/cluster.txt" good.txt &&
	echo "n4:compute:img::52:54:00:00:00:01" >>"$B/scripts/cluster.txt" &&
	expect_exit 1 in_ns si_mkbootserver --base "$B" -i br0 2>err &&
	grep "MAC 52:54:00:00:00:01 given to .n1. and .n4." err &&
	cp good.txt "$B/scripts/cluster.txt" &&
	test_must_be_empty_dir() { test -z "$(ls -A "$1" 2>/dev/null)"; } &&
	test_must_be_empty_dir "$B/netboot"
'

test_expect_success '--print-config: the dnsmasq configuration, nothing started' '
	in_ns si_mkbootserver --base "$B" -i br0 --print-config >conf &&
	grep "^interface=br0$" conf && grep "^dhcp-range=$BOEL_SERVER,proxy$" conf &&
	in_ns si_mkbootserver --base "$B" -i br0 --dhcp-range $BOEL_NET.100,$BOEL_NET.150 \
		--print-config >conf2 &&
	grep "^dhcp-range=$BOEL_NET.100,$BOEL_NET.150,1h$" conf2
'

test_expect_success 'it starts dnsmasq, which serves the iPXE loaders by TFTP and nothing else' '
	start_bg server ip netns exec "$BOEL_NS" si_mkbootserver --base "$B" -i br0 \
		--dhcp-range $BOEL_NET.100,$BOEL_NET.150 --unknown-image rescue \
		--kernel-args "console=ttyS0" &&
	wait_for_line 20 server.log "si_mkbootserver: ready: $URL on br0, full DHCP" &&
	grep -P "^52:54:00:00:00:01,n1,$BOEL_NET.21$" "$B/run/bootserver/dhcp-hosts" &&
	grep -P "^52:54:00:00:00:02,n2$" "$B/run/bootserver/dhcp-hosts" &&
	(cd "$TRASH" && in_ns bb/bin/busybox tftp -g -r undionly.kpxe -l got.kpxe $BOEL_SERVER) &&
	cmp got.kpxe /usr/lib/ipxe/undionly.kpxe &&
	(cd "$TRASH" && in_ns bb/bin/busybox tftp -g -r snponly.efi -l got.efi $BOEL_SERVER) &&
	cmp got.efi /usr/lib/ipxe/snponly.efi &&
	! (cd "$TRASH" && in_ns bb/bin/busybox tftp -g -r ../scripts/cluster.txt -l got.txt $BOEL_SERVER)
'

test_expect_success 'each node gets its script: listed nodes boot their disk until marked' '
	get /boot.ipxe >chain && grep "^chain $URL/node/\${netX/mac:hexhyp}$" chain &&
	get /node/52-54-00-00-00-01 >n1.ipxe && grep "^exit 1$" n1.ipxe &&
	si_mkclientnetboot --base "$B" --netboot n1 52:54:00:00:00:02 >mark.out &&
	grep "^n1: next boot: install$" mark.out && grep "^n2: next boot: install$" mark.out &&
	get /node/52-54-00-00-00-01 >n1.ipxe &&
	grep "^kernel $URL/boel/vmlinuz initrd=initrd.img ip=dhcp IMAGESERVER=$BOEL_SERVER IMAGENAME=img HOSTNAME=n1 SI_MAC=52:54:00:00:00:01 SI_REPORT_URL=$URL/report console=ttyS0 || goto retry$" n1.ipxe &&
	grep "^initrd $URL/boel/initrd.img || goto retry$" n1.ipxe &&
	get /boel/initrd.img >initrd && cmp initrd "$B/boot/initrd.img" &&
	get /boel/vmlinuz >vmlinuz && cmp vmlinuz "$B/boot/vmlinuz"
'

test_expect_success 'an unknown node installs the --unknown-image, without a name' '
	get /node/52-54-00-00-00-99 >u.ipxe &&
	grep "IMAGENAME=rescue SI_MAC=52:54:00:00:00:99 " u.ipxe && ! grep HOSTNAME u.ipxe
'

test_expect_success 'reports: status 100 turns a node to its disk, a failure keeps it installing' '
	get "/report?mac=52:54:00:00:00:01&status=100&hostname=n1&image=img" >r &&
	test "$(cat r)" = ok &&
	get /node/52-54-00-00-00-01 >n1.ipxe && grep "^exit 1$" n1.ipxe &&
	get "/report?mac=52-54-00-00-00-02&status=-1&message=no%20disk" >r &&
	get /node/52-54-00-00-00-02 >n2.ipxe && grep "^kernel " n2.ipxe &&
	si_mkclientnetboot --base "$B" --list >list &&
	grep "^n1 .*52:54:00:00:00:01 $BOEL_NET.21 .*img .*local .*100 imaged" list &&
	grep "^n2 .*install .*-1 failed .*: no disk$" list &&
	grep "^n3 .* - .*(default)" list &&
	grep "node=n1 mac=52:54:00:00:00:01 from=$BOEL_SERVER status=100 hostname=n1 image=img" \
		"$B/netboot/reports.log" &&
	! get "/report?mac=nonsense&status=1" 2>err &&
	grep "400" err
'

test_expect_success 'si_mkclientnetboot: a name not in the table changes nothing' '
	cp "$B/netboot/n1" n1.before &&
	expect_exit 1 si_mkclientnetboot --base "$B" --netboot n1 nosuch 2>err &&
	grep "no host .nosuch. in the cluster table" err &&
	test_cmp n1.before "$B/netboot/n1" &&
	expect_exit 2 si_mkclientnetboot --base "$B" --netboot --localboot n1 &&
	expect_exit 2 si_mkclientnetboot --base "$B" --netboot &&
	si_mkclientnetboot --base "$B" --netboot --image rescue n3 2>err &&
	grep "host .n3. has no MAC" err
'

test_expect_success 'a dnsmasq that dies is restarted; a changed table is read again' '
	pid=$(cat "$B/run/bootserver/dnsmasq.pid") &&
	kill -9 "$pid" &&
	wait_for_line 20 server.log "restarted dnsmasq" &&
	echo "n5:compute:img::52:54:00:00:00:05" >>"$B/scripts/cluster.txt" &&
	wait_for_line 10 server.log "read .*cluster.txt again: 4 hosts" &&
	wait_for 5 grep -q "^52:54:00:00:00:05,n5$" "$B/run/bootserver/dhcp-hosts"
'

test_expect_success 'SIGTERM stops it and its dnsmasq' '
	pid=$(cat "$B/run/bootserver/dnsmasq.pid") &&
	kill_pid "$(cat server.pid)" &&
	grep "stopping (signal 15)" server.log &&
	! kill -0 "$pid" 2>/dev/null
'

test_done
