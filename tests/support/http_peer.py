"""A test HTTP/1.x peer that records the exact bytes it receives.

    python3 http_peer.py --port-file FILE --dir DIR [--bind ADDR]
                         [--slow] [--lifetime SECONDS]

Listens on ADDR (default 127.0.0.1) on a port the kernel picks, written to
--port-file once listening (an ADDR starting with "/" is the path of a Unix
socket, and the port written is 0). Each connection N is served by its own thread;
when it ends, DIR/conn-N.recv holds every byte received, DIR/conn-N.sent
every byte sent, and DIR/conn-N.done is created last. Every request is also
logged as one JSON line in DIR/requests.jsonl: conn, index, method, target,
version, head (the request head exactly as received, decoded as Latin-1),
body_len and body_sha256.

The answer depends on the request target's path:

    /chunked     200, chunked (a chunk extension and a trailer included)
    /bigchunked  200, chunked, 100,000 bytes in chunks of varied sizes
    /close       200 without Content-Length, ended by closing the connection
    /204, /304   no body (304 carries Content-Length: 5, which it must ignore)
    /404, /500   that status, with a Content-Length body
    /truncated   promises 100 bytes, sends 10 and closes
    /reset       reads the request and resets the connection (RST)
    /empty       reads the request and closes the connection, answering nothing
    /echo        200 whose body is the request head as received
    anything     200 with a Content-Length body
    (HEAD)       the head of a 200 with Content-Length: 42, no body

"Expect: 100-continue" gets an interim 100 response first. The status line
repeats the request's HTTP version; HTTP/1.0 and "Connection: close" close
the connection after the response. --slow reads in 1 KiB pieces with a
pause between them and a small receive buffer, so a fast writer fills its
send buffer. The peer exits by itself after --lifetime seconds (default 100).
"""
import argparse
import hashlib
import json
import os
import socket
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
import serverutil  # noqa: E402

LOCK = threading.Lock()


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--slow", action="store_true")
    p.add_argument("--lifetime", type=float, default=100)
    return p.parse_args()


class Conn:
    def __init__(self, sock, n, opts):
        self.sock = sock
        self.n = n
        self.opts = opts
        self.recv = bytearray()   # everything received
        self.sent = bytearray()   # everything sent
        self.pos = 0              # parse position in self.recv
        self.eof = False

    def fill(self):
        """Reads more bytes; False at end of stream."""
        if self.eof:
            return False
        try:
            chunk = self.sock.recv(1024 if self.opts.slow else 65536)
        except ConnectionResetError:
            chunk = b""
        if self.opts.slow:
            time.sleep(0.0005)
        if not chunk:
            self.eof = True
            return False
        self.recv += chunk
        return True

    def send(self, data):
        self.sock.sendall(data)
        self.sent += data

    def read_head(self):
        while True:
            end = self.recv.find(b"\r\n\r\n", self.pos)
            if end >= 0:
                head = bytes(self.recv[self.pos:end + 4])
                self.pos = end + 4
                return head
            if not self.fill():
                return None

    def read_body(self, n):
        while len(self.recv) - self.pos < n:
            if not self.fill():
                return None
        body = bytes(self.recv[self.pos:self.pos + n])
        self.pos += n
        return body


def respond(c, method, path, version, headers, head):
    """Sends the answer; returns what to do next: "keep", "close" or "reset"."""
    keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    status_line = lambda code, reason: ("%s %d %s\r\n" % (version, code, reason)).encode()
    conn_hdr = b"" if keep else b"Connection: close\r\n"

    def simple(code, reason, body):
        c.send(status_line(code, reason) + b"Content-Type: text/plain\r\n" + conn_hdr +
               b"Content-Length: %d\r\n\r\n" % len(body) + body)

    if method == "HEAD":
        c.send(status_line(200, "OK") + b"Content-Type: text/plain\r\n" + conn_hdr +
               b"Content-Length: 42\r\n\r\n")
    elif path == "/chunked":
        c.send(status_line(200, "OK") + b"Content-Type: text/plain\r\n" + conn_hdr +
               b"Transfer-Encoding: chunked\r\n\r\n")
        c.send(b"6;ext=1\r\nhello \r\n")
        c.send(b"8\r\nchunked\n\r\n0\r\nX-Trailer: t\r\n\r\n")
    elif path == "/bigchunked":
        c.send(status_line(200, "OK") + b"Content-Type: application/octet-stream\r\n" +
               conn_hdr + b"Transfer-Encoding: chunked\r\n\r\n")
        left, i, out = 100000, 0, bytearray()
        while left:
            n = min(left, (1, 7, 4096, 13, 1000, 8191, 3, 16384)[i % 8])
            out += b"%x\r\n" % n + bytes((i + k) & 0xFF for k in range(n)) + b"\r\n"
            left -= n
            i += 1
        out += b"0\r\n\r\n"
        for k in range(0, len(out), 777):     # odd pieces on the wire too
            c.send(out[k:k + 777])
    elif path == "/close":
        c.send(status_line(200, "OK") + b"Content-Type: text/plain\r\n"
               b"Connection: close\r\n\r\nclose-delimited body\n")
        return "close"
    elif path == "/204":
        c.send(status_line(204, "No Content") + conn_hdr + b"\r\n")
    elif path == "/304":
        c.send(status_line(304, "Not Modified") + conn_hdr +
               b"ETag: \"x\"\r\nContent-Length: 5\r\n\r\n")
    elif path == "/404":
        simple(404, "Not Found", b"not found\n")
    elif path == "/500":
        simple(500, "Internal Server Error", b"server error\n")
    elif path == "/truncated":
        c.send(status_line(200, "OK") + b"Content-Length: 100\r\n\r\n0123456789")
        return "close"
    elif path == "/reset":
        return "reset"
    elif path == "/empty":
        return "close"
    elif path == "/echo":
        simple(200, "OK", head)
    else:
        simple(200, "OK", b"hello from %s\n" % path.encode())
    return "keep" if keep else "close"


def serve(c):
    """Answers requests until the client closes or an answer ends the connection."""
    index = 0
    while True:
        head = c.read_head()
        if head is None:
            return "eof"
        lines = head[:-4].split(b"\r\n")
        parts = lines[0].decode("latin-1").split(" ")
        if len(parts) != 3:
            return "close"
        method, target, version = parts
        headers = {}
        for line in lines[1:]:
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("expect", "").lower() == "100-continue":
            c.send(("%s 100 Continue\r\n\r\n" % version).encode())
        body = c.read_body(int(headers.get("content-length", "0")))
        if body is None:
            return "eof"
        entry = {
            "conn": c.n, "index": index, "method": method, "target": target,
            "version": version, "head": head.decode("latin-1"),
            "body_len": len(body), "body_sha256": hashlib.sha256(body).hexdigest(),
        }
        with LOCK:
            with open(os.path.join(c.opts.dir, "requests.jsonl"), "a") as f:
                f.write(json.dumps(entry) + "\n")
        index += 1
        then = respond(c, method, target.split("?", 1)[0], version, headers, head)
        if then != "keep":
            return then


def handle(sock, n, opts):
    c = Conn(sock, n, opts)
    sock.settimeout(30)
    try:
        how = serve(c)
        if how == "reset":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif how == "close":
            # End our side, then record whatever the client still sends
            # until it closes: closing with unread data would reset the
            # connection under the client's reads.
            sock.shutdown(socket.SHUT_WR)
            while c.fill():
                pass
    except OSError:
        pass
    finally:
        sock.close()
        base = os.path.join(opts.dir, "conn-%d" % n)
        with open(base + ".recv", "wb") as f:
            f.write(c.recv)
        with open(base + ".sent", "wb") as f:
            f.write(c.sent)
        open(base + ".done", "w").close()


def main():
    opts = parse_args()
    os.makedirs(opts.dir, exist_ok=True)
    if opts.bind.startswith("/"):
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(opts.bind)
        port = 0
    else:
        family = socket.AF_INET6 if ":" in opts.bind else socket.AF_INET
        srv = socket.socket(family, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if opts.slow:
            srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        srv.bind((opts.bind, 0))
        port = srv.getsockname()[1]
    srv.listen(64)
    serverutil.announce(opts.port_file, port, opts.lifetime)
    serverutil.accept_forever(srv, handle, opts)


if __name__ == "__main__":
    main()
