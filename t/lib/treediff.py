#!/usr/bin/env python3
"""treediff.py A B [--exclude PATH]... [--no-times] [--no-holes]

Compares two directory trees entry by entry, independently of SwarmImager's
own code: type, mode, uid, gid, size, content (SHA-256), symlink target,
device numbers, hard-link identity (which paths share an inode), extended
attributes (including ACLs), modification time (seconds) of non-symlinks,
and for sparse files that holes stayed holes.  Prints one line per
difference and exits 1 if there was any, 0 if the trees are the same.
"""
import hashlib, os, stat, sys

def walk(root, excludes):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for n in sorted(dirnames + filenames):
            p = os.path.normpath(os.path.join(rel, n))
            if any(p == e or p.startswith(e + "/") for e in excludes):
                if n in dirnames:
                    dirnames.remove(n)
                continue
            out[p] = os.path.join(dirpath, n)
        dirnames[:] = [d for d in dirnames
                       if not os.path.islink(os.path.join(dirpath, d))]
    return out

def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()

def xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    return {n: os.getxattr(path, n, follow_symlinks=False) for n in sorted(names)}

def describe(path, times, holes):
    st = os.lstat(path)
    d = {"type": stat.S_IFMT(st.st_mode), "mode": oct(stat.S_IMODE(st.st_mode)),
         "uid": st.st_uid, "gid": st.st_gid, "xattrs": xattrs(path)}
    if stat.S_ISLNK(st.st_mode):
        d["target"] = os.readlink(path)
    elif stat.S_ISREG(st.st_mode):
        d["size"] = st.st_size
        d["sha256"] = digest(path)
        if holes:
            # A file that was sparse must stay sparse (allocated < size).
            d["sparse"] = st.st_blocks * 512 < st.st_size - 65536
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        d["rdev"] = (os.major(st.st_rdev), os.minor(st.st_rdev))
    if times and not stat.S_ISLNK(st.st_mode) and not stat.S_ISDIR(st.st_mode):
        d["mtime"] = int(st.st_mtime)
    return d, (st.st_dev, st.st_ino), st.st_nlink

def main(argv):
    args, excludes, times, holes = [], [], True, True
    it = iter(argv)
    for a in it:
        if a == "--exclude":
            excludes.append(next(it).strip("/"))
        elif a == "--no-times":
            times = False
        elif a == "--no-holes":
            holes = False
        else:
            args.append(a)
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    a, b = (walk(r, excludes) for r in args)
    diffs = []
    for p in sorted(set(a) | set(b)):
        if p not in a or p not in b:
            diffs.append("%s: only in %s" % (p, args[0] if p in a else args[1]))
    inode_a, inode_b = {}, {}
    for p in sorted(set(a) & set(b)):
        da, ia, na = describe(a[p], times, holes)
        db, ib, nb = describe(b[p], times, holes)
        for k in sorted(set(da) | set(db)):
            if da.get(k) != db.get(k):
                diffs.append("%s: %s differs: %r != %r" % (p, k, da.get(k), db.get(k)))
        if da["type"] == stat.S_IFREG and na > 1:
            inode_a.setdefault(ia, []).append(p)
        if db["type"] == stat.S_IFREG and nb > 1:
            inode_b.setdefault(ib, []).append(p)
    ga = sorted(sorted(v) for v in inode_a.values() if len(v) > 1)
    gb = sorted(sorted(v) for v in inode_b.values() if len(v) > 1)
    if ga != gb:
        diffs.append("hard-link groups differ: %r != %r" % (ga, gb))
    for d in diffs:
        print(d)
    return 1 if diffs else 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
