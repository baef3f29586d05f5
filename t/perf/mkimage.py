#!/usr/bin/env python3
"""mkimage.py SIZE_MB OUT.tar.gz - a deterministic benchmark image.

Writes a gzip-compressed tarball of about SIZE_MB megabytes (10^6 bytes)
holding a system-like tree: directories, many small text files (configs,
scripts, docs: compressible), larger binary-like files (random bytes, as
compressed or machine code is), symlinks.  The same SIZE_MB always gives
the same bytes (fixed seed, fixed times and owners), so runs compare.
Exit 0 ok, 1 on error, 2 on usage.
"""
import gzip
import io
import os
import random
import sys
import tarfile

WORDS = ("the of and to in is for on with as by at from this that be are "
         "root usr lib bin etc share doc config option value default path "
         "file system kernel module device network interface address port "
         "server client node image install update boot disk partition mount "
         "true false yes no enable disable start stop restart status").split()
DIRS = ["usr/bin", "usr/sbin", "usr/lib/x86_64-linux-gnu", "usr/share/doc",
        "usr/share/man/man1", "usr/share/locale", "etc", "etc/default",
        "etc/systemd/system", "var/lib/dpkg/info", "opt/app/lib"]


def text(rng, size):
    out, n = [], 0
    while n < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
        out.append(line)
        n += len(line) + 1
    return ("\n".join(out) + "\n").encode()[:size]


def add(tar, name, data=None, kind=tarfile.REGTYPE, target=""):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mtime, ti.uid, ti.gid = kind, 1700000000, 0, 0
    ti.mode = 0o755 if kind == tarfile.DIRTYPE or name.startswith("usr/bin") else 0o644
    ti.linkname = target
    if data is not None:
        ti.size = len(data)
        tar.addfile(ti, io.BytesIO(data))
    else:
        tar.addfile(ti)


def build(size_mb, out):
    target = size_mb * 1000 * 1000
    rng = random.Random(size_mb * 7919 + 1)
    with open(out + ".tmp", "wb") as raw:
        gz = gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=6, mtime=0)
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
            seen = set()
            for d in DIRS:
                parts = d.split("/")
                for i in range(1, len(parts) + 1):
                    p = "/".join(parts[:i])
                    if p not in seen:
                        seen.add(p)
                        add(tar, p, kind=tarfile.DIRTYPE)
            i = 0
            while raw.tell() < target:
                i += 1
                d = rng.choice(DIRS)
                if i % 10 < 7:
                    add(tar, "%s/f%05d.conf" % (d, i), text(rng, int(rng.lognormvariate(8, 1.2))))
                elif i % 10 < 9:
                    n = min(int(rng.lognormvariate(11.5, 1.3)), 4 << 20)
                    add(tar, "%s/b%05d.bin" % (d, i), rng.randbytes(n))
                else:
                    add(tar, "%s/l%05d" % (d, i), kind=tarfile.SYMTYPE,
                        target="f%05d.conf" % (i - 1))
        gz.close()
    os.rename(out + ".tmp", out)


def main(argv):
    if len(argv) != 3 or not argv[1].isdigit() or int(argv[1]) < 1:
        print("usage: mkimage.py SIZE_MB OUT.tar.gz", file=sys.stderr)
        return 2
    try:
        build(int(argv[1]), argv[2])
    except OSError as e:
        print("mkimage.py: cannot write '%s': %s" % (argv[2], e.strerror), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
