"""A misbehaving OTLP/HTTP collector, for the exporter's fault tests.

    python3 fault_collector.py --mode MODE --port-file FILE [--log FILE]
                               [--delay SECONDS] [--status CODE]
                               [--retry-after SECONDS] [--lifetime SECONDS]

Listens on 127.0.0.1 on a port the kernel picks, written atomically to
--port-file once listening; every connection gets its own thread. MODE:

    refuse     accepts, then closes at once with a reset (SO_LINGER 0)
    noread     accepts and never reads (a 4 KiB receive buffer, so the
               sender soon blocks in send), never answers
    blackhole  reads every request and never answers
    slow       reads a request, waits --delay seconds (default 1.5), answers
               200 with an empty protobuf body; keep-alive
    garbage    reads a request, writes 4 KiB of random bytes (not HTTP) and
               closes
    bogus      reads a request, writes a response whose status line and
               header are not HTTP ("HTTP/1.1 2x0 ..."), and closes
    status     answers every request with --status CODE (default 500), with
               "Retry-After: --retry-after" when given; keep-alive

--log gets one JSON line per event: {"conn": N, "event": "accept"} and
{"conn": N, "event": "request", "body": BYTES}, so a test can count
connections and export attempts. The collector exits by itself after
--lifetime seconds (default 100).
"""
import argparse
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
    p.add_argument("--mode", required=True,
                   choices=["refuse", "noread", "blackhole", "slow", "garbage", "bogus", "status"])
    p.add_argument("--port-file", required=True)
    p.add_argument("--log")
    p.add_argument("--delay", type=float, default=1.5)
    p.add_argument("--status", type=int, default=500)
    p.add_argument("--retry-after")
    p.add_argument("--lifetime", type=float, default=100)
    return p.parse_args()


def log(opts, **event):
    if not opts.log:
        return
    with LOCK:
        with open(opts.log, "a") as f:
            f.write(json.dumps(event) + "\n")


def read_request(sock, buf):
    """Reads one request (head and Content-Length body) from sock; returns
    (body length, rest of buf) or None at end of stream."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    head, _, buf = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(buf) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    return length, buf[length:]


def answer(sock, code, extra=b""):
    reason = {200: b"OK", 500: b"Internal Server Error", 503: b"Service Unavailable",
              429: b"Too Many Requests", 502: b"Bad Gateway", 504: b"Gateway Timeout"}
    sock.sendall(b"HTTP/1.1 %d %s\r\nContent-Type: application/x-protobuf\r\n"
                 b"Content-Length: 0\r\n%s\r\n" % (code, reason.get(code, b"Status"), extra))


def serve(sock, n, opts):
    log(opts, conn=n, event="accept")
    try:
        if opts.mode == "refuse":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        if opts.mode == "noread":
            time.sleep(opts.lifetime)
            return
        buf = b""
        while True:
            got = read_request(sock, buf)
            if got is None:
                return
            length, buf = got
            log(opts, conn=n, event="request", body=length)
            if opts.mode == "blackhole":
                continue
            if opts.mode == "slow":
                time.sleep(opts.delay)
                answer(sock, 200)
            elif opts.mode == "garbage":
                sock.sendall(os.urandom(4096))
                return
            elif opts.mode == "bogus":
                sock.sendall(b"HTTP/1.1 2x0 Sure\r\nContent-Length: lots\r\n\x01\x02 no colon\r\n\r\n")
                return
            else:
                extra = b""
                if opts.retry_after is not None:
                    extra = b"Retry-After: %s\r\n" % opts.retry_after.encode()
                answer(sock, opts.status, extra)
    except OSError:
        pass
    finally:
        try:
            sock.close()
        except OSError:
            pass


def main():
    opts = parse_args()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if opts.mode == "noread":
        # Inherited by accepted sockets: the sender's body soon fills it.
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    serverutil.announce(opts.port_file, srv.getsockname()[1], opts.lifetime)
    serverutil.accept_forever(srv, serve, opts)


if __name__ == "__main__":
    main()
