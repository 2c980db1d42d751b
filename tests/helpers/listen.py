#!/usr/bin/env python3
"""Listen on ADDR PORT (TCP) until killed; write our pid to PIDFILE once
listening. ADDR may be 127.0.0.1, 0.0.0.0, ::1 or ::."""
import os
import signal
import socket
import sys

addr, port, pidfile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
family = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if family == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
s.bind((addr, port))
s.listen(16)
tmp = pidfile + ".tmp"
with open(tmp, "w") as f:
    f.write("%d\n" % os.getpid())
os.rename(tmp, pidfile)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    conn, _ = s.accept()
    conn.close()
