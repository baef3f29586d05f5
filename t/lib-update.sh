# lib-update.sh - helpers of the update tests (t5xxx), sourced after
# test-lib.sh.

# make_v1 DIR: a tree of ~12 MB in ~400 files: three large files, many
# small ones in nested directories, a symlink, a hard-link pair, a fifo,
# an empty file and an owner other than root.
make_v1() {
	python3 - "$1" <<'PY'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(42)
os.makedirs(root)
def write(p, data):
    full = os.path.join(root, p)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        f.write(data)
for i in range(3):
    write("usr/lib/big%d.bin" % i, rnd.randbytes(3 << 20))
for d in range(20):
    for i in range(20):
        n = rnd.randint(0, 8000)
        write("usr/share/d%02d/f%03d.txt" % (d, i), rnd.randbytes(n))
write("etc/hostname", b"golden\n")
write("etc/app.conf", b"setting=1\n" * 200)
write("etc/empty", b"")
write("var/old/gone.txt", b"bye\n")
write("var/old/sub/gone2.txt", b"bye\n")
os.symlink("usr/lib/big0.bin", os.path.join(root, "current"))
os.link(os.path.join(root, "usr/lib/big1.bin"), os.path.join(root, "usr/lib/big1.link"))
os.mkfifo(os.path.join(root, "var/fifo"))
os.chown(os.path.join(root, "etc/app.conf"), 1000, 1000)
os.chmod(os.path.join(root, "usr/share/d01/f001.txt"), 0o600)
PY
}

# make_v2 V1 V2: V1 with about 1% of its bytes changed: small edits inside
# the large files (one shifted by an insertion), files added and removed,
# a mode and an owner changed (on files otherwise unchanged), the symlink retargeted, the hard-linked
# file edited, an xattr added.
make_v2() {
	cp -a "$1" "$2" && python3 - "$2" <<'PY'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(7)
P = lambda p: os.path.join(root, p)
def patch(p, off, data):
    with open(P(p), "r+b") as f:
        f.seek(off); f.write(data)
patch("usr/lib/big0.bin", 1000000, rnd.randbytes(2000))
patch("usr/lib/big1.bin", 2000000, rnd.randbytes(500))
with open(P("usr/lib/big2.bin"), "rb") as f:
    d = f.read()
with open(P("usr/lib/big2.bin"), "wb") as f:
    f.write(d[:1500000] + b"inserted text " * 100 + d[1500000:])
for i in range(10):
    p = "usr/share/d%02d/f%03d.txt" % (i, i)
    with open(P(p), "ab") as f:
        f.write(b"appended line\n")
os.makedirs(P("opt/new"))
for i in range(5):
    with open(P("opt/new/n%d.dat" % i), "wb") as f:
        f.write(rnd.randbytes(20000))
os.remove(P("usr/share/d05/f005.txt"))
import shutil; shutil.rmtree(P("var/old"))
os.chmod(P("usr/share/d12/f012.txt"), 0o755)
os.chown(P("usr/share/d13/f013.txt"), 4321, 8765)
os.remove(P("current")); os.symlink("usr/lib/big2.bin", P("current"))
with open(P("etc/app.conf"), "ab") as f:
    f.write(b"setting=2\n")
os.setxattr(P("usr/share/d14/f014.txt"), "user.si.test", b"value\x01")
# A later, fixed mtime on every edited file: rsync's quick check (size and
# mtime) must not depend on whether v1 and v2 were made in the same second.
for p in ["usr/lib/big0.bin", "usr/lib/big1.bin", "usr/lib/big2.bin",
          "etc/app.conf"] + ["usr/share/d%02d/f%03d.txt" % (i, i) for i in range(10) if i != 5]:
    os.utime(P(p), (2000000000, 2000000000))
# bytes written anew: edits, insertion, appends, new files, app.conf
print(2000 + 500 + 1400 + 10 * 14 + 5 * 20000 + 10)
PY
}

# make_tarball DIR OUT: GNU tar (the independent reference), numeric owners,
# xattrs, sorted, member paths without "./".
make_tarball() {
	(cd "$1" && tar --numeric-owner --xattrs --sort=name -czf "$2" \
		$(ls -A))
}

# start_rsyncd BASE: a real rsync daemon on 127.0.0.1 serving BASE's
# images, overrides and scripts read-only (as si_seeder does); sets
# RSYNC_PORT and SERVER.
start_rsyncd() {
	RSYNC_PORT=$(free_port) || return 1
	cat >"$TRASH/rsyncd.conf" <<EOC
use chroot = no
uid = 0
gid = 0
numeric ids = yes
[images]
path = $1/images
read only = yes
[overrides]
path = $1/overrides
read only = yes
[scripts]
path = $1/scripts
read only = yes
EOC
	start_bg rsyncd rsync --daemon --no-detach --config="$TRASH/rsyncd.conf" \
		--address=127.0.0.1 --port="$RSYNC_PORT"
	SERVER=127.0.0.1:$RSYNC_PORT
	wait_for 10 rsync --list-only "rsync://$SERVER/"
}
