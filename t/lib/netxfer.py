#!/usr/bin/env python3
"""netxfer.py - measure a TCP transfer between two hosts (test helper).

  netxfer.py recv ADDR PORT [TIMEOUT]  accept one connection, read to EOF,
                                       print "BYTES SECONDS" (first byte to EOF)
  netxfer.py send ADDR PORT BYTES [TIMEOUT]   connect, send BYTES, close
Exit 0 on success, 1 on a network error or timeout, 2 on usage.
"""
import socket
import sys
import time


def recv(addr, port, timeout):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(1)
    srv.settimeout(timeout)
    print("listening", flush=True, file=sys.stderr)
    conn, _ = srv.accept()
    conn.settimeout(timeout)
    total, start = 0, None
    while True:
        buf = conn.recv(1 << 16)
        if not buf:
            break
        if start is None:
            start = time.monotonic()
        total += len(buf)
    end = time.monotonic()
    print(total, "%.3f" % (end - (start or end)))


def send(addr, port, nbytes, timeout):
    sock = socket.create_connection((addr, port), timeout=timeout)
    chunk = bytes(range(256)) * 256
    left = nbytes
    while left > 0:
        n = sock.send(chunk[:min(left, len(chunk))])
        left -= n
    sock.shutdown(socket.SHUT_WR)
    sock.recv(1)
    sock.close()


def main(argv):
    try:
        if len(argv) in (4, 5) and argv[1] == "recv":
            recv(argv[2], int(argv[3]), float(argv[4]) if len(argv) == 5 else 60)
        elif len(argv) in (5, 6) and argv[1] == "send":
            send(argv[2], int(argv[3]), int(argv[4]),
                 float(argv[5]) if len(argv) == 6 else 60)
        else:
            print(__doc__.strip(), file=sys.stderr)
            return 2
    except OSError as e:
        print("netxfer.py: %s: %s" % (argv[1], e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
