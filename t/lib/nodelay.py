#!/usr/bin/env python3
"""nodelay.py PID PORT: prints 1 if the TCP socket that process PID listens
on at PORT has TCP_NODELAY set (connections it accepts inherit it), else 0.

The socket is read from the outside: pidfd_getfd(2) (Linux 5.6, root)
gives us a copy of the process's descriptor, and getsockopt(2) asks the
kernel.  Exits 1 with a message when there is no such socket."""

import ctypes
import os
import socket
import sys

SYS_pidfd_getfd = 438  # the same number on every architecture


def listening_fds(pid, port):
    """The process's descriptors that are TCP sockets listening on port."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, state, inode = fields[1], fields[3], fields[9]
                    if state == "0A" and int(local.split(":")[1], 16) == port:
                        inodes.add(inode)
        except FileNotFoundError:
            pass
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            yield int(name)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: nodelay.py PID PORT")
    pid, port = int(sys.argv[1]), int(sys.argv[2])
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    for fd in listening_fds(pid, port):
        copy = libc.syscall(SYS_pidfd_getfd, pidfd, fd, 0)
        if copy < 0:
            sys.exit(f"pidfd_getfd: {os.strerror(ctypes.get_errno())}")
        s = socket.socket(fileno=copy)
        print(1 if s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) else 0)
        s.close()
        return
    sys.exit(f"process {pid} has no TCP socket listening on port {port}")


if __name__ == "__main__":
    main()
