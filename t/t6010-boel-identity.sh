#!/bin/bash
test_description='si_boel: each node gets its own host name, machine id and SSH host keys; host overrides win; switches keep the image'"'"'s'
. "$(dirname "$0")/test-lib.sh" && . "$TEST_DIR/lib-server.sh"
require_root
require_cmd rsync opentracker mktorrent aria2c python3 ssh-keygen

MID=0123456789abcdef0123456789abcdef
# What the identity steps change; the rest of a node equals the image.
IDX="--exclude etc/swarmimager --exclude etc/hostname --exclude etc/hosts --exclude etc/machine-id --exclude var/lib/dbus --exclude etc/ssh --exclude etc/systemd"

# keys DIR: the SSH host key files of the tree DIR, one name a line.
keys() { (cd "$1/etc/ssh" && ls -1 ssh_host_* 2>/dev/null); }

# no_host_name CMD...: CMD with the kernel's unset host name "(none)", as
# in the boot environment before anything named the node.
no_host_name() {
	unshare --uts sh -c 'echo "(none)" >/proc/sys/kernel/hostname && exec "$@"' - "$@"
}

test_expect_success 'an image captured with a name, a machine id and host keys; a host override with its own keys' '
	server_fixture_init &&
	I=$SRV/images/img &&
	fixture_image_tree "$I" &&
	mkdir -p "$I/etc/ssh" "$I/var/lib/dbus" "$I/usr/sbin" &&
	echo golden >"$I/etc/hostname" &&
	printf "127.0.0.1\tlocalhost\n127.0.1.1\tgolden.example.org\tgolden\n\n::1     localhost ip6-localhost ip6-loopback\n10.1.2.3\tstorage\n" >"$I/etc/hosts" &&
	echo $MID >"$I/etc/machine-id" && chmod 444 "$I/etc/machine-id" &&
	echo $MID >"$I/var/lib/dbus/machine-id" &&
	for t in ed25519 rsa; do
		ssh-keygen -q -t $t -N "" -C golden -f "$I/etc/ssh/ssh_host_${t}_key" || return 1
	done &&
	echo "PermitRootLogin no" >"$I/etc/ssh/sshd_config" &&
	mkdir -p "$SRV/overrides/n2/etc/ssh" &&
	ssh-keygen -q -t ed25519 -N "" -C n2 -f "$SRV/overrides/n2/etc/ssh/ssh_host_ed25519_key" &&
	fixture_pack image img &&
	fixture_pack override n2 &&
	start_server_fixture
'

test_expect_success 'node n1: its name in /etc/hostname and /etc/hosts, an empty machine id, no host keys' '
	boel n1 --image img --hostname n1 --no-seed-wait >o1 2>e1; rc=$?; cat o1 e1; test $rc = 0 &&
	echo n1 >want && test_cmp want n1/etc/hostname &&
	printf "127.0.0.1\tlocalhost\n127.0.1.1\tn1\n\n::1     localhost ip6-localhost ip6-loopback\n10.1.2.3\tstorage\n" >want &&
	test_cmp want n1/etc/hosts &&
	test -f n1/etc/machine-id && ! test -s n1/etc/machine-id &&
	test "$(stat -c %a:%u n1/etc/machine-id)" = 444:0 &&
	! test -e n1/var/lib/dbus/machine-id && test -d n1/var/lib/dbus &&
	test -z "$(keys n1)" &&
	test -f n1/etc/ssh/sshd_config &&
	grep "host name n1 written into /etc/hostname and /etc/hosts" e1 &&
	grep "machine id reset" e1 &&
	grep "SSH host keys removed (4 files" e1 &&
	cmp "$SRC_DIR/boel/firstboot/swarmimager-hostkeys.service" \
		n1/etc/systemd/system/swarmimager-hostkeys.service &&
	test -L n1/etc/systemd/system/multi-user.target.wants/swarmimager-hostkeys.service &&
	test "$(ls -A n1/etc/systemd/system)" = "$(printf "multi-user.target.wants\nswarmimager-hostkeys.service")" &&
	tree_diff "$I" n1 $IDX &&
	tree_diff "$I/etc/ssh" n1/etc/ssh --exclude ssh_host_ed25519_key \
		--exclude ssh_host_ed25519_key.pub --exclude ssh_host_rsa_key \
		--exclude ssh_host_rsa_key.pub
'

test_expect_success 'node n2: its own name; the keys of its host override are kept, the image'"'"'s are not' '
	boel n2 --image img --hostname n2 --no-seed-wait >o2 2>e2; rc=$?; cat e2; test $rc = 0 &&
	echo n2 >want && test_cmp want n2/etc/hostname &&
	grep -x "127.0.1.1	n2" n2/etc/hosts &&
	! grep golden n2/etc/hosts &&
	! test -s n2/etc/machine-id &&
	printf "ssh_host_ed25519_key\nssh_host_ed25519_key.pub\n" >want &&
	keys n2 >got && test_cmp want got &&
	cmp "$SRV/overrides/n2/etc/ssh/ssh_host_ed25519_key" n2/etc/ssh/ssh_host_ed25519_key &&
	cmp "$SRV/overrides/n2/etc/ssh/ssh_host_ed25519_key.pub" n2/etc/ssh/ssh_host_ed25519_key.pub &&
	grep "override 2/2 (hostname): override-n2.tar.gz installed" e2 &&
	! cmp -s n1/etc/hostname n2/etc/hostname
'

test_expect_success 'switches off on the kernel command line: the image as it is' '
	echo "SI_HOSTNAME_WRITE=n SI_MACHINE_ID_RESET=no SI_SSH_HOSTKEYS_RESET=n" >cmdline &&
	mkdir -p n3 &&
	TMPDIR=$TRASH si_boel --target n3 --imageserver "$IMAGESERVER" --image img \
		--hostname n3 --cmdline cmdline --listen 127.0.0.1:0 --no-seed-wait \
		--retry-delay 0.2 >o3 2>e3; rc=$?; cat e3; test $rc = 0 &&
	tree_diff "$I" n3 --exclude etc/swarmimager &&
	! grep -e "host name" -e "machine id" -e "host keys" e3
'

test_expect_success 'the options do the same, one by one; a name with a domain' '
	boel n4 --image img --hostname n4 --no-seed-wait --no-hostname-write >o4 2>e4 &&
	cmp "$I/etc/hostname" n4/etc/hostname && cmp "$I/etc/hosts" n4/etc/hosts &&
	! test -s n4/etc/machine-id && test -z "$(keys n4)" &&
	boel n5 --image img --hostname n5.example.org --no-seed-wait --no-machine-id-reset >o5 2>e5 &&
	cmp "$I/etc/machine-id" n5/etc/machine-id &&
	cmp "$I/var/lib/dbus/machine-id" n5/var/lib/dbus/machine-id &&
	test "$(cat n5/etc/hostname)" = n5 && test -z "$(keys n5)" &&
	grep -x "127.0.1.1	n5.example.org	n5" n5/etc/hosts &&
	boel n6 --image img --hostname n6 --no-seed-wait --no-ssh-hostkeys-reset >o6 2>e6 &&
	tree_diff "$I/etc/ssh" n6/etc/ssh &&
	test "$(cat n6/etc/hostname)" = n6 && ! test -s n6/etc/machine-id
'

test_expect_success 'no host name known: the hostname files stay, with a note' '
	mkdir -p n7 &&
	no_host_name env TMPDIR="$TRASH" si_boel --target n7 --imageserver "$IMAGESERVER" \
		--image img --cmdline /dev/null --listen 127.0.0.1:0 --no-seed-wait \
		--retry-delay 0.2 >o7 2>e7; rc=$?; cat e7; test $rc = 0 &&
	grep "no HOSTNAME: /etc/hostname and /etc/hosts left as the image has them" e7 &&
	cmp "$I/etc/hostname" n7/etc/hostname && cmp "$I/etc/hosts" n7/etc/hosts &&
	! test -s n7/etc/machine-id && test -z "$(keys n7)"
'

test_expect_success 'a name that is no host name is not written; a bad switch is a usage error' '
	boel n8 --image img --hostname n_8 --no-seed-wait >o8 2>e8 &&
	grep "HOSTNAME .n_8. is no valid host name" e8 &&
	cmp "$I/etc/hostname" n8/etc/hostname &&
	expect_exit 2 boel n9 --image img --set SI_SSH_HOSTKEYS_RESET=maybe 2>e9 &&
	grep "invalid SI_SSH_HOSTKEYS_RESET=.maybe. (from option): expected y or n" e9 &&
	test -z "$(ls n9)"
'

test_expect_success 'an image without these files gets none' '
	rm -rf "$SRV/images/bare" && fixture_image_tree "$SRV/images/bare" 3 &&
	fixture_pack image bare && stop_seeder && start_seeder &&
	boel n10 --image bare --hostname n10 --no-seed-wait >o10 2>e10 &&
	tree_diff "$SRV/images/bare" n10 --exclude etc/swarmimager &&
	grep "the image has no /etc/hostname or /etc/hosts: host name n10 not written" e10
'
test_done
