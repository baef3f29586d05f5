#!/bin/bash
test_description='si_boel reports to SI_REPORT_URL (100 installed, <0 failed) and leaves a first-boot unit that reports 102 once'
# The whole script runs in a network namespace of its own, where the
# interfaces and their MACs are known: lo, p0 (up, no address), d0
# (52:54:00:00:00:01, 10.9.0.1) and d1 (52:54:00:00:00:02, 10.9.1.1).
if [ -z "${T4020_NETNS:-}" ] && [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
	T4020_NETNS=1 exec unshare -n "$BASH" "$0" "$@"
fi
. "$(dirname "$0")/test-lib.sh" && . "$TEST_DIR/lib-server.sh"
require_root
[ -n "${T4020_NETNS:-}" ] || skip_all "needs a network namespace (unshare -n)"
require_cmd rsync opentracker mktorrent aria2c python3 ssh-keygen ip timeout

FB=$SRC_DIR/boel/firstboot
UNITS=etc/systemd/system
WANTS=$UNITS/multi-user.target.wants

# q KEY [N]: the decoded value of KEY in request N (default the last) of
# the listener's log, "(absent)" when it has none; "path" is the path.
q() {
	python3 - "$1" "${2:-0}" "$TRASH/req.log" <<'PY'
import sys, urllib.parse
lines = [l.rstrip("\n") for l in open(sys.argv[3]) if l.strip()]
n = int(sys.argv[2])
u = urllib.parse.urlsplit(lines[n - 1 if n else -1])
if sys.argv[1] == "path":
    print(u.path)
else:
    v = urllib.parse.parse_qs(u.query, keep_blank_values=True).get(sys.argv[1])
    print(v[0] if v and len(v) == 1 else "(absent)" if not v else "(twice)")
PY
}
requests() { cat "$TRASH/req.log" 2>/dev/null | grep -c . ; }

# listener NAME [ARGS]: t/lib/report-listener.py logging to req.log; sets
# URL to its /report on 127.0.0.1.
listener() {
	local name=$1 port; shift
	start_bg "$name" python3 "$TEST_DIR/lib/report-listener.py" "$TRASH/req.log" "$@" &&
	wait_for_line 10 "$TRASH/$name.log" "^listening " &&
	port=$(sed -n "s/^listening 127.0.0.1:\([0-9]*\)$/\1/p" "$TRASH/$name.log") &&
	URL=http://127.0.0.1:$port/report
}

# closed_url: a URL on a port where nobody listens.
closed_url() { echo "http://127.0.0.1:$(free_port)/report"; }

# fingerprints DIR: the SHA256 fingerprints of DIR's host public keys,
# computed from the key blobs (as ssh-keygen -l does), comma-separated.
fingerprints() {
	python3 - "$1"/etc/ssh/ssh_host_*_key.pub <<'PY'
import base64, hashlib, sys
fps = []
for f in sys.argv[1:]:
    blob = base64.b64decode(open(f).read().split()[1])
    fps.append("SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("="))
print(",".join(fps))
PY
}

test_expect_success 'network: two interfaces of known MACs; an image with sshd and host keys; a listener' '
	ip link set lo up &&
	ip link add d0 address 52:54:00:00:00:01 type veth peer name p0 &&
	ip link add d1 address 52:54:00:00:00:02 type veth peer name p1 &&
	ip addr add 10.9.0.1/24 dev d0 && ip addr add 10.9.1.1/24 dev d1 &&
	for i in p0 d0 p1 d1; do ip link set $i up || return 1; done &&
	server_fixture_init &&
	I=$SRV/images/img &&
	fixture_image_tree "$I" &&
	mkdir -p "$I/etc/ssh" "$I/usr/sbin" "$I/usr/bin" "$I/$UNITS" &&
	echo golden >"$I/etc/hostname" &&
	echo 0123456789abcdef0123456789abcdef >"$I/etc/machine-id" &&
	ssh-keygen -q -t ed25519 -N "" -f "$I/etc/ssh/ssh_host_ed25519_key" &&
	printf "#!/bin/sh\nexit 0\n" >"$I/usr/sbin/sshd" && chmod 755 "$I/usr/sbin/sshd" &&
	cp -a "$I" "$SRV/images/masked" &&
	ln -s /dev/null "$SRV/images/masked/$UNITS/swarmimager-firstboot.service" &&
	fixture_pack image img && fixture_pack image masked &&
	start_server_fixture &&
	listener l1
'

test_expect_success 'installed: status 100 reported with mac, hostname and image' '
	echo "console=ttyS0 SI_REPORT_URL=$URL SI_MAC=52:54:00:AA:BB:CC" >cmdline &&
	mkdir -p n1 &&
	TMPDIR=$TRASH si_boel --target n1 --imageserver "$IMAGESERVER" --image img \
		--hostname n1 --cmdline cmdline --listen 127.0.0.1:0 --no-seed-wait \
		--retry-delay 0.2 >o1 2>e1; rc=$?; cat e1; test $rc = 0 &&
	test -f n1/etc/swarmimager/installed &&
	test "$(requests)" = 1 &&
	test "$(q path)" = /report &&
	test "$(q mac)" = 52:54:00:aa:bb:cc &&
	test "$(q status)" = 100 &&
	test "$(q hostname)" = n1 &&
	test "$(q image)" = img &&
	test "$(q message)" = "(absent)" &&
	grep "reported status 100 to $URL" e1
'

test_expect_success 'the first-boot files in the target: units enabled, script, settings' '
	cmp "$FB/swarmimager-firstboot.service" n1/$UNITS/swarmimager-firstboot.service &&
	cmp "$FB/swarmimager-hostkeys.service" n1/$UNITS/swarmimager-hostkeys.service &&
	cmp "$FB/swarmimager-firstboot" n1/usr/lib/swarmimager/firstboot &&
	test "$(stat -c %a:%u:%g n1/usr/lib/swarmimager/firstboot)" = 755:0:0 &&
	test "$(stat -c %a n1/$UNITS/swarmimager-firstboot.service)" = 644 &&
	test "$(readlink n1/$WANTS/swarmimager-firstboot.service)" = /$UNITS/swarmimager-firstboot.service &&
	test "$(readlink n1/$WANTS/swarmimager-hostkeys.service)" = /$UNITS/swarmimager-hostkeys.service &&
	(. n1/etc/swarmimager/firstboot.conf &&
	 test "$SI_REPORT_URL" = "$URL" && test "$SI_MAC" = 52:54:00:aa:bb:cc &&
	 test "$IMAGENAME" = img && test "$INSTALL_HOSTNAME" = n1) &&
	grep "the first boot reports to $URL (swarmimager-firstboot.service)" e1 &&
	! test -e n1/etc/swarmimager/firstboot.done &&
	bash -n n1/usr/lib/swarmimager/firstboot
'

# On this host's systemd units; ExecStart= names the script where it is
# here (systemd-analyze checks that it is executable).
if command -v systemd-analyze >/dev/null; then
test_expect_success 'systemd-analyze verify accepts the units' '
	mkdir -p verify &&
	sed "s|^ExecStart=/usr/lib/swarmimager/firstboot$|ExecStart=$TRASH/n1/usr/lib/swarmimager/firstboot|" \
		n1/$UNITS/swarmimager-firstboot.service >verify/swarmimager-firstboot.service &&
	grep -q "^ExecStart=$TRASH/" verify/swarmimager-firstboot.service &&
	cp n1/$UNITS/swarmimager-hostkeys.service verify/ &&
	systemd-analyze verify --man=no verify/swarmimager-firstboot.service \
		verify/swarmimager-hostkeys.service >verify.out 2>&1; rc=$?
	cat verify.out; test $rc = 0 &&
	! grep -i -e "swarmimager-.*: " -e "unknown" verify.out
'
else
	test_skip 'systemd-analyze verify accepts the units' 'no systemd-analyze'
fi

test_expect_success 'without SI_MAC: the first interface up with an address (the server is on loopback)' '
	: >req.log &&
	boel n2 --image img --hostname n2 --no-seed-wait --report-url "$URL" >o2 2>e2 &&
	test "$(q mac)" = 52:54:00:00:00:01 &&
	grep -x "SI_MAC=.52:54:00:00:00:01." n2/etc/swarmimager/firstboot.conf
'

test_expect_success 'a failed install reports a negative status, the error and the MAC that routes to IMAGESERVER' '
	: >req.log && mkdir -p n3 &&
	expect_exit 1 env TMPDIR="$TRASH" si_boel --target n3 --imageserver 10.9.1.1:1 \
		--image img --hostname n3 --cmdline /dev/null --no-seed-wait \
		--retries 2 --retry-delay 0.1 --report-url "$URL" >o3 2>e3 &&
	cat e3 &&
	test "$(requests)" = 1 &&
	test "$(q status)" = -1 &&
	test "$(q mac)" = 52:54:00:00:00:02 &&
	test "$(q hostname)" = n3 &&
	q message | grep "rsync" &&
	test "$(q message)" = "$(grep -v -e warning -e reported e3 | tail -n 1 | sed "s/^si_boel: //")" &&
	! test -e n3/etc/swarmimager/installed
'

test_expect_success 'a closed port, an HTTP error, a server that never answers: warnings, the install stands' '
	dead=$(closed_url) &&
	boel n4 --image img --hostname n4 --no-seed-wait --report-url "$dead" >o4 2>e4 &&
	grep "warning: cannot report status 100 to $dead: cannot connect to 127.0.0.1 port [0-9]*: Connection refused" e4 &&
	test -f n4/etc/swarmimager/installed &&
	listener l500 --status 500 && : >req.log &&
	boel n5 --image img --hostname n5 --no-seed-wait --report-url "$URL" >o5 2>e5 &&
	grep "warning: cannot report status 100 to $URL: the server answered HTTP 500" e5 &&
	listener lmute --mute && : >req.log &&
	t0=$(date +%s) &&
	boel n6 --image img --hostname n6 --no-seed-wait --report-url "$URL" >o6 2>e6 &&
	t1=$(date +%s) &&
	grep "warning: cannot report status 100 to $URL: no answer in time" e6 &&
	test "$(requests)" = 1 && test -f n6/etc/swarmimager/installed &&
	echo "took $((t1 - t0)) s" && [ $((t1 - t0)) -lt 20 ]
'

test_expect_success 'SI_FIRSTBOOT=n, --no-firstboot and an image that masks the unit: no first-boot report' '
	listener l2 &&
	boel n7 --image img --hostname n7 --no-seed-wait --report-url "$URL" --set SI_FIRSTBOOT=n >o7 2>e7 &&
	boel n8 --image img --hostname n8 --no-seed-wait --report-url "$URL" --no-firstboot >o8 2>e8 &&
	for n in n7 n8; do
		! test -e $n/$UNITS/swarmimager-firstboot.service &&
		! test -e $n/usr/lib/swarmimager/firstboot &&
		! test -e $n/etc/swarmimager/firstboot.conf &&
		test -f $n/$UNITS/swarmimager-hostkeys.service || return 1
	done &&
	grep "SI_FIRSTBOOT=n: the first boot does not report" e7 &&
	boel n9 --image masked --hostname n9 --no-seed-wait --report-url "$URL" >o9 2>e9 &&
	grep "swarmimager-firstboot.service is masked in the image" e9 &&
	test "$(readlink n9/$UNITS/swarmimager-firstboot.service)" = /dev/null &&
	! test -L n9/$WANTS/swarmimager-firstboot.service &&
	! test -e n9/usr/lib/swarmimager/firstboot &&
	tree_diff "$SRV/images/masked" n9 --exclude etc/swarmimager --exclude etc/hostname \
		--exclude etc/machine-id --exclude etc/ssh --exclude $UNITS/swarmimager-hostkeys.service \
		--exclude $WANTS
'

test_expect_success 'an override that masks the unit wins over the one si_boel wrote' '
	mkdir -p "$SRV/overrides/n12/$UNITS" &&
	ln -s /dev/null "$SRV/overrides/n12/$UNITS/swarmimager-firstboot.service" &&
	fixture_pack override n12 && stop_seeder && start_seeder &&
	boel n12 --image img --hostname n12 --no-seed-wait --report-url "$URL" >o12 2>e12 &&
	grep "override 2/2 (hostname): override-n12.tar.gz installed" e12 &&
	test "$(readlink n12/$UNITS/swarmimager-firstboot.service)" = /dev/null
'

test_expect_success 'no SI_REPORT_URL: no report, no first-boot report unit' '
	: >req.log &&
	boel n10 --image img --hostname n10 --no-seed-wait >o10 2>e10 &&
	test "$(requests)" = 0 &&
	! test -e n10/$UNITS/swarmimager-firstboot.service &&
	expect_exit 2 boel n11 --image img --report-url ftp://x/ 2>e11 &&
	grep "invalid SI_REPORT_URL=.ftp://x/. (from option): expected http://HOST\[:PORT\]/PATH" e11 &&
	expect_exit 2 boel n11 --image img --mac 52:54:00:aa:bb 2>e11 &&
	grep "invalid SI_MAC=" e11
'

# The first boot, played on this host: the script as si_boel wrote it,
# on the installed tree (SI_FIRSTBOOT_ROOT), after what the boot does
# before it: systemd writes a machine id, the hostkeys unit makes keys.
test_expect_success 'first boot: status 102 with machine id and key fingerprints, then disabled' '
	echo fedcba9876543210fedcba9876543210 >n1/etc/machine-id &&
	ssh-keygen -A -f "$TRASH/n1" &&
	test -f n1/etc/ssh/ssh_host_ed25519_key.pub &&
	! cmp -s "$I/etc/ssh/ssh_host_ed25519_key.pub" n1/etc/ssh/ssh_host_ed25519_key.pub &&
	: >req.log &&
	u1=$(. n1/etc/swarmimager/firstboot.conf && echo "$SI_REPORT_URL") &&
	SI_FIRSTBOOT_ROOT=$TRASH/n1 timeout 60 n1/usr/lib/swarmimager/firstboot >fb1.out 2>&1; rc=$?
	cat fb1.out; test $rc = 0 &&
	echo "swarmimager-firstboot: reported status 102 to $u1" >want &&
	test_cmp want fb1.out &&
	test "$(requests)" = 1 &&
	test "$(q path)" = /report &&
	test "$(q status)" = 102 &&
	test "$(q mac)" = 52:54:00:aa:bb:cc &&
	test "$(q hostname)" = "$(hostname)" &&
	test "$(q image)" = img &&
	test "$(q machine_id)" = fedcba9876543210fedcba9876543210 &&
	test "$(q ssh)" = "$(fingerprints n1)" &&
	test "$(q ssh | tr , "\n" | wc -l)" -ge 2 &&
	! test -L n1/$WANTS/swarmimager-firstboot.service &&
	test -L n1/$WANTS/swarmimager-hostkeys.service &&
	grep "reported status 102 to $u1" n1/etc/swarmimager/firstboot.done
'

test_expect_success 'first boot with a URL holding a query: the parameters follow it' '
	: >req.log && rm -f n2/etc/swarmimager/firstboot.done &&
	sed -i "s|^SI_REPORT_URL=.*|SI_REPORT_URL='"'"'$URL?site=a%20b'"'"'|" n2/etc/swarmimager/firstboot.conf &&
	SI_FIRSTBOOT_ROOT=$TRASH/n2 timeout 60 bash n2/usr/lib/swarmimager/firstboot >fb2.out 2>&1 &&
	test "$(q site)" = "a b" && test "$(q status)" = 102 &&
	test "$(q machine_id)" = "(absent)" && test "$(q ssh)" = "(absent)"
'

# fast_retries DIR: 3 attempts, 1 s apart, 2 s each.
fast_retries() {
	sed -i "s/^SI_REPORT_TRIES=.*/SI_REPORT_TRIES=3/; s/^SI_REPORT_INTERVAL=.*/SI_REPORT_INTERVAL=1/; s/^SI_REPORT_TIMEOUT=.*/SI_REPORT_TIMEOUT=2/" \
		"$1/etc/swarmimager/firstboot.conf"
}

test_expect_success 'first boot, server dead: retries within their bound, then gives up for good' '
	fast_retries n4 &&
	t0=$(date +%s%N) &&
	SI_FIRSTBOOT_ROOT=$TRASH/n4 timeout 60 n4/usr/lib/swarmimager/firstboot >fb4.out 2>&1; rc=$?
	t1=$(date +%s%N); cat fb4.out; test $rc = 1 &&
	test "$(grep -c "attempt [123] of 3 to report to .*: cannot connect to 127.0.0.1 port" fb4.out)" = 3 &&
	grep "swarmimager-firstboot: cannot report status 102 to $dead: cannot connect.*; not trying again at later boots" fb4.out &&
	! test -L n4/$WANTS/swarmimager-firstboot.service &&
	grep "not reported" n4/etc/swarmimager/firstboot.done &&
	echo "$(( (t1 - t0) / 1000000 )) ms" && [ $(( (t1 - t0) / 1000000 )) -lt 10000 ]
'

test_expect_success 'first boot, server never answers: each attempt cut at its timeout' '
	listener lmute2 --mute && : >req.log &&
	sed -i "s|^SI_REPORT_URL=.*|SI_REPORT_URL='"'"'$URL'"'"'|" n6/etc/swarmimager/firstboot.conf &&
	fast_retries n6 &&
	t0=$(date +%s%N) &&
	SI_FIRSTBOOT_ROOT=$TRASH/n6 timeout 60 n6/usr/lib/swarmimager/firstboot >fb6.out 2>&1; rc=$?
	t1=$(date +%s%N); cat fb6.out; test $rc = 1 &&
	test "$(grep -c "no answer within 2 s" fb6.out)" -ge 3 &&
	test "$(requests)" = 3 &&
	ms=$(( (t1 - t0) / 1000000 )) && echo "$ms ms" &&
	[ $ms -ge 7000 ] && [ $ms -lt 15000 ]
'
test_done
