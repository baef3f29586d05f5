#!/usr/bin/env python3
"""torrent-info.py FILE [DATA]: prints a .torrent's fields as KEY=VALUE lines
(info-hash, name, length, piece-length, announce, url-list, creation-date,
unpacked: SwarmImager's "swarmimager unpacked" record as BYTES/ENTRIES or none),
decoding the bencoding here, independently of libtorrent.  With DATA,
also checks every piece's SHA-1 against that file and prints pieces=ok or
pieces=bad."""
import hashlib, sys

def decode(b, i=0):
    c = b[i:i + 1]
    if c == b"i":
        j = b.index(b"e", i)
        return int(b[i + 1:j]), j + 1
    if c in (b"l", b"d"):
        i, out = i + 1, []
        while b[i:i + 1] != b"e":
            v, i = decode(b, i)
            out.append(v)
        if c == b"l":
            return out, i + 1
        return dict(zip(out[::2], out[1::2])), i + 1
    j = b.index(b":", i)
    n = int(b[i:j])
    return b[j + 1:j + 1 + n], j + 1 + n

def info_span(b):
    # the raw bytes of the info dictionary, as hashed
    i = 1
    while b[i:i + 1] != b"e":
        k, i = decode(b, i)
        start = i
        v, i = decode(b, i)
        if k == b"info":
            return b[start:i]
    raise ValueError("no info dictionary")

data = open(sys.argv[1], "rb").read()
top, end = decode(data)
assert end == len(data), "trailing bytes"
info = top[b"info"]
print("info-hash=%s" % hashlib.sha1(info_span(data)).hexdigest())
print("name=%s" % info[b"name"].decode())
print("length=%d" % info.get(b"length", -1))
print("piece-length=%d" % info[b"piece length"])
print("announce=%s" % top.get(b"announce", b"").decode())
ul = top.get(b"url-list", [])
if isinstance(ul, bytes):
    ul = [ul]
print("url-list=%s" % " ".join(u.decode() for u in ul))
print("creation-date=%s" % top.get(b"creation date", "none"))
print("files=%s" % ("multi" if b"files" in info else "single"))
up = top.get(b"swarmimager unpacked")
print("unpacked=%s" % ("%d/%d" % (up[b"bytes"], up[b"entries"]) if up else "none"))
if len(sys.argv) > 2:
    plen, pieces = info[b"piece length"], info[b"pieces"]
    good = True
    with open(sys.argv[2], "rb") as f:
        i = 0
        while True:
            blk = f.read(plen)
            if not blk:
                break
            if hashlib.sha1(blk).digest() != pieces[20 * i:20 * i + 20]:
                good = False
            i += 1
    good = good and 20 * i == len(pieces)
    print("pieces=%s" % ("ok" if good else "bad"))
