#!/usr/bin/env python3
"""servers.py [--pidfile FILE] [--delay SECONDS] SPEC...: TCP servers on
127.0.0.1, all in this one process, until it gets SIGTERM or SIGINT.

Each SPEC is KIND:PORTS, PORTS a port, FIRST-LAST or a comma-separated
list of those:

  ok:PORTS       HTTP: '200 OK' for GET /health, '404 Not Found' for any
                 other path
  error:PORTS    HTTP: '500 Internal Server Error' for every request
  hang:PORTS     accepts, reads what comes and never answers
  slow:PORTS     answers '200 OK', one byte a second
  garbage:PORTS  answers binary garbage and a line end, then closes
  listen:PORTS   only listens: connections wait in the queue unaccepted
  pairs:N        N connected TCP pairs on the loopback (2N sockets, on
                 ports the system picks); for a machine with many sockets

The pid of this process goes to FILE (written whole, by a rename) once
every socket listens and every pair is connected, so a test that waits
for the file knows the servers are up and can stop them by that pid.
--delay waits that long before making any socket (a server that comes
up later). The soft limit on open files is raised to the hard one.
"""
import os
import resource
import selectors
import signal
import socket
import sys
import time

ANSWERS = {
    "ok": (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
           b"Content-Length: 3\r\nConnection: close\r\n\r\nok\n"),
    "notfound": (b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
                 b"Content-Length: 10\r\nConnection: close\r\n\r\n"
                 b"not found\n"),
    "error": (b"HTTP/1.1 500 Internal Server Error\r\n"
              b"Content-Type: text/plain\r\nContent-Length: 6\r\n"
              b"Connection: close\r\n\r\nerror\n"),
    "slow": (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
             b"Connection: close\r\n\r\n"),
    "garbage": b"\x00\xff\xfe\x1b[31m\x80garbage\x7f\x01\r\n",
}
KINDS = ("ok", "error", "hang", "slow", "garbage", "listen")


def fail(msg):
    print("servers.py: %s" % msg, file=sys.stderr)
    sys.exit(2)


def parse_ports(text):
    ports = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-", 1)
            ports.extend(range(int(a), int(b) + 1))
        else:
            ports.append(int(part))
    return ports


class Conn:
    def __init__(self, sock, kind):
        self.sock = sock
        self.kind = kind
        self.buf = b""
        self.answered = False
        self.pending = b""  # the slow answer still to send


def main():
    args = sys.argv[1:]
    pidfile = None
    delay = 0.0
    while args and args[0].startswith("--"):
        opt = args.pop(0)
        if not args:
            fail("%s needs a value" % opt)
        if opt == "--pidfile":
            pidfile = args.pop(0)
        elif opt == "--delay":
            delay = float(args.pop(0))
        else:
            fail("unknown option %s" % opt)
    if not args:
        fail("usage: servers.py [--pidfile FILE] [--delay S] KIND:PORTS...")

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    if delay > 0:
        time.sleep(delay)

    sel = selectors.DefaultSelector()
    held = []  # sockets kept open and never looked at
    for spec in args:
        kind, _, what = spec.partition(":")
        if kind == "pairs":
            n = int(what)
            lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            lst.bind(("127.0.0.1", 0))
            lst.listen(128)
            for _ in range(n):
                c = socket.create_connection(lst.getsockname())
                s, _ = lst.accept()
                held.extend((c, s))
            lst.close()
            continue
        if kind not in KINDS:
            fail("unknown kind %r in %r" % (kind, spec))
        for port in parse_ports(what):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError as e:
                fail("cannot bind 127.0.0.1:%d: %s" % (port, e))
            s.listen(128)
            s.setblocking(False)
            if kind == "listen":
                held.append(s)
            else:
                sel.register(s, selectors.EVENT_READ, (kind, None))

    if pidfile:
        tmp = pidfile + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(tmp, pidfile)

    slow = {}  # Conn -> time of its next byte
    while True:
        timeout = None
        if slow:
            timeout = max(0.0, min(slow.values()) - time.monotonic())
        for key, _ in sel.select(timeout):
            kind, conn = key.data
            if conn is None:
                accept_all(sel, key.fileobj, kind)
            else:
                serve(sel, conn, slow)
        now = time.monotonic()
        for conn in [c for c, t in slow.items() if t <= now]:
            try:
                conn.sock.send(conn.pending[:1])
            except OSError:
                close(sel, conn, slow)
                continue
            conn.pending = conn.pending[1:]
            if conn.pending:
                slow[conn] = now + 1.0
            else:
                del slow[conn]


def accept_all(sel, lst, kind):
    while True:
        try:
            s, _ = lst.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return  # out of descriptors: leave the rest in the queue
        s.setblocking(False)
        conn = Conn(s, kind)
        sel.register(s, selectors.EVENT_READ, (kind, conn))


def close(sel, conn, slow):
    slow.pop(conn, None)
    try:
        sel.unregister(conn.sock)
    except (KeyError, ValueError):
        pass
    conn.sock.close()


def serve(sel, conn, slow):
    try:
        data = conn.sock.recv(65536)
    except (BlockingIOError, InterruptedError):
        return
    except OSError:
        data = b""
    if not data:
        close(sel, conn, slow)
        return
    if conn.answered or conn.kind == "hang":
        return
    conn.buf += data
    if b"\r\n\r\n" not in conn.buf:
        return
    conn.answered = True
    if conn.kind == "slow":
        conn.pending = ANSWERS["slow"]
        slow[conn] = time.monotonic()
        return
    if conn.kind == "ok":
        parts = conn.buf.split(b"\r\n", 1)[0].split(b" ")
        path = parts[1] if len(parts) > 1 else b""
        answer = ANSWERS["ok" if path == b"/health" else "notfound"]
    else:
        answer = ANSWERS[conn.kind]
    conn.sock.setblocking(True)
    try:
        conn.sock.sendall(answer)
        conn.sock.shutdown(socket.SHUT_WR)
    except OSError:
        close(sel, conn, slow)
        return
    conn.sock.setblocking(False)
    # closed once the client closes its side (recv gives b"")


main()
