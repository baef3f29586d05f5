#!/usr/bin/env python3
"""manifest-check.py ROOT MANIFEST [--no-root]

Checks a SwarmImager manifest against the tree it describes, independently
of SwarmImager's C code: the header, bytewise sort order, that every entry
of the tree except sockets is listed once (the root as "." unless
--no-root), and for each line the type, mode, owner, size, mtime, SHA-256
of regular files, symlink targets, device numbers, and that an "h" entry
names an earlier path with the same inode.  Prints each problem; exits 1
if there was any.
"""
import hashlib, os, re, stat, sys

def unescape(s):
    out, i, b = bytearray(), 0, s.encode("ascii")
    while i < len(b):
        c = b[i]
        if c != 0x5c:
            out.append(c); i += 1; continue
        n = b[i + 1:i + 2]
        if n == b"\\": out.append(0x5c); i += 2
        elif n == b"t": out.append(9); i += 2
        elif n == b"n": out.append(10); i += 2
        elif re.fullmatch(rb"[0-3][0-7][0-7]", b[i + 1:i + 4]):
            out.append(int(b[i + 1:i + 4], 8)); i += 4
        else:
            raise ValueError("bad escape in %r" % s)
    return bytes(out)

def sha256(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for blk in iter(lambda: f.read(1 << 20), b""):
            h.update(blk)
    return h.hexdigest()

def main(argv):
    no_root = "--no-root" in argv
    root, man = [a for a in argv if a != "--no-root"]
    root = os.fsencode(root)
    problems = []
    with open(man, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    if lines[0] != b"# swarmimager manifest 1" or lines[-1] != b"":
        problems.append("bad header or missing final newline")
    seen, order, inode_first = set(), [], {}
    for n, raw in enumerate(lines[1:-1], 2):
        if any(c >= 0x7f for c in raw):
            problems.append("line %d: raw non-ASCII byte" % n)
        f = raw.decode("ascii", "replace").split("\t")
        if len(f) != 9:
            problems.append("line %d: %d fields" % (n, len(f))); continue
        path = unescape(f[0])
        order.append(path)
        seen.add(path)
        full = root if path == b"." else os.path.join(root, path)
        try:
            st = os.lstat(full)
        except OSError as e:
            problems.append("%r: %s" % (path, e)); continue
        t = {stat.S_IFREG: "f", stat.S_IFDIR: "d", stat.S_IFLNK: "l",
             stat.S_IFCHR: "c", stat.S_IFBLK: "b",
             stat.S_IFIFO: "p"}.get(stat.S_IFMT(st.st_mode), "?")
        key = (st.st_dev, st.st_ino)
        if t == "f" and st.st_nlink > 1:
            if key in inode_first:
                t = "h"
            else:
                inode_first[key] = path
        want = [t, "%04o" % stat.S_IMODE(st.st_mode), str(st.st_uid),
                str(st.st_gid),
                str(st.st_size if t in "fh" else 0), str(int(st.st_mtime))]
        if f[1:7] != want:
            problems.append("%r: fields %s, tree says %s" % (path, f[1:7], want))
        sha = sha256(full) if t == "f" else "-"
        if f[7] != sha:
            problems.append("%r: sha256 %s, tree says %s" % (path, f[7], sha))
        if t == "l":
            target = os.readlink(full)
        elif t == "h":
            target = inode_first[key]
        elif t in "cb":
            target = b"%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
        else:
            target = None
        got = None if f[8] == "-" else unescape(f[8])
        if got != target:
            problems.append("%r: target %r, tree says %r" % (path, got, target))
    if order != sorted(order) or len(order) != len(set(order)):
        problems.append("paths not sorted bytewise or duplicated")
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            if stat.S_ISSOCK(os.lstat(full).st_mode):
                if rel in seen:
                    problems.append("%r: socket listed" % rel)
            elif rel not in seen:
                problems.append("%r: missing from the manifest" % rel)
    if no_root == (b"." in seen):
        problems.append("root entry '.' %s" % ("listed" if no_root else "missing"))
    for p in problems:
        print(p)
    print("%d entries checked, %d problems" % (len(order), len(problems)))
    return 1 if problems else 0

sys.exit(main(sys.argv[1:]))
