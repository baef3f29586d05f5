#!/usr/bin/env python3
"""report-listener.py LOG [--status N] [--mute]

A small HTTP server standing in for the boot server's report endpoint:
listens on 127.0.0.1 on a port the kernel picks, prints
"listening 127.0.0.1:PORT" once ready, appends each request's target
(path and query as sent) to LOG, one line each, and answers N (default
200) "ok".  With --mute it reads the request and never answers (a server
that hangs).
"""
import http.server
import sys
import time

args = sys.argv[1:]
log = args.pop(0)
status = 200
mute = False
while args:
    a = args.pop(0)
    if a == "--status":
        status = int(args.pop(0))
    elif a == "--mute":
        mute = True


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        with open(log, "a") as f:
            f.write(self.path + "\n")
        if mute:
            time.sleep(3600)
            return
        body = b"ok\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *a):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
srv.daemon_threads = True
print("listening 127.0.0.1:%d" % srv.server_address[1], flush=True)
srv.serve_forever()
