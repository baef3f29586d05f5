#!/usr/bin/env python3
"""Test peers of si_monitor, independent of our C code.

  monitor-peer.py send HOST PORT [HOLD]  sends stdin's lines on one
      connection, keeps it open HOLD seconds (default 0), closes it;
      exits 1 when the connection is refused or reset.
  monitor-peer.py sink                   a monitor that accepts and never
      reads (a small receive buffer): prints "listening 127.0.0.1:PORT"
      and runs until killed.
  monitor-peer.py conns HOST PORT N HOLD  opens N connections and holds
      them HOLD seconds, printing how many the server closed at once.
"""
import socket
import sys
import time


def send(host, port, hold=0.0):
    s = socket.create_connection((host, int(port)), timeout=10)
    for line in sys.stdin.buffer:
        s.sendall(line)
    time.sleep(float(hold))
    s.close()


def sink():
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    print("listening 127.0.0.1:%d" % ls.getsockname()[1], flush=True)
    held = []
    while True:
        c, _ = ls.accept()
        held.append(c)


def conns(host, port, n, hold):
    socks = [socket.create_connection((host, int(port)), timeout=5)
             for _ in range(int(n))]
    time.sleep(float(hold))
    closed = 0
    for s in socks:
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except ConnectionError:
            closed += 1
    print(closed)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    try:
        {"send": send, "sink": sink, "conns": conns}[cmd](*args)
    except (ConnectionError, socket.timeout) as e:
        print("monitor-peer: %s" % e, file=sys.stderr)
        sys.exit(1)
