#!/bin/bash
test_description='si_getimage warns once when it captures the golden client'"'"'s machine id or SSH host keys'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-capture.sh"

require_root
require_cmd rsync ssh-keygen si_prepareclient si_getimage

BASE=$TRASH/base
G=$TRASH/golden

# capture NAME: si_prepareclient for 127.0.0.1 on a fresh port, then
# si_getimage of image gold (stderr in NAME.err).
capture() {
	local port
	port=$(free_port) &&
	start_bg "$1" si_prepareclient -y --server 127.0.0.1 --root "$G" \
		--port $port --timeout 60 &&
	wait_for_line 15 "$1.log" "si_prepareclient: ready: " &&
	si_getimage --golden-client 127.0.0.1 --port $port --image gold \
		--base "$BASE" >"$1.out" 2>"$1.err" &&
	cat "$1.err" &&
	grep "^captured image gold from 127.0.0.1" "$1.out"
}

test_expect_success 'setup: a golden client with a host name only' '
	mkdir -p "$G/etc/ssh" "$BASE/etc" "$BASE/images" &&
	cp "$SRC_DIR/etc/getimage.exclude" "$BASE/etc/" &&
	echo golden >"$G/etc/hostname" &&
	: >"$G/etc/machine-id" &&
	echo "PermitRootLogin no" >"$G/etc/ssh/sshd_config"
'

test_expect_success 'no machine id, no host keys: no warning' '
	capture c1 &&
	! grep -i "warning" c1.err
'

test_expect_success 'a machine id: one warning, saying how to keep it' '
	echo 0123456789abcdef0123456789abcdef >"$G/etc/machine-id" &&
	capture c2 &&
	test "$(grep -c warning c2.err)" = 1 &&
	grep "warning: image .gold. holds the golden client.s machine id (etc/machine-id): si_boel resets it on every node it installs (keep it with SI_MACHINE_ID_RESET=n)$" c2.err &&
	! grep "SSH" c2.err &&
	test -s "$BASE/images/gold/etc/machine-id"
'

test_expect_success 'and SSH host keys: still one warning, naming both and the host override' '
	ssh-keygen -q -t ed25519 -N "" -f "$G/etc/ssh/ssh_host_ed25519_key" &&
	capture c3 &&
	test "$(grep -c warning c3.err)" = 1 &&
	grep "machine id (etc/machine-id) and SSH host keys (etc/ssh/ssh_host_\*_key): si_boel resets them on every node it installs (keep them with SI_MACHINE_ID_RESET=n and SI_SSH_HOSTKEYS_RESET=n; a node.s own host keys in its host override, overrides/HOSTNAME/etc/ssh/, are kept)" c3.err &&
	test -f "$BASE/images/gold/etc/ssh/ssh_host_ed25519_key"
'

test_expect_success 'host keys only (a public key is enough)' '
	: >"$G/etc/machine-id" && rm "$G/etc/ssh/ssh_host_ed25519_key" &&
	capture c4 &&
	grep "holds the golden client.s SSH host keys (etc/ssh/ssh_host_\*_key): si_boel resets them on every node it installs (keep them with SI_SSH_HOSTKEYS_RESET=n;" c4.err &&
	! grep "machine id" c4.err
'
test_done
