"""http_peer.py over TLS: the same answers and the same records, with every
accepted connection wrapped in a TLS server session, optionally slow to
start reading.

    python3 tls_peer.py --port-file FILE --dir DIR --cert PEM --key PEM
                        [--first-sleep SECONDS] [--rcvbuf BYTES]
                        [--lifetime SECONDS]

Listens on 127.0.0.1 on a port the kernel picks, written to --port-file
once listening. Each connection N is served by its own thread: the TLS
handshake first (ALPN offers http/1.1 only; a failed handshake is logged in
DIR/conn-N.handshake and ends the connection), then --first-sleep seconds
without reading (default 0), then http_peer.py's serve loop on the
decrypted stream: the same answers (/404, /echo, anything else 200 with a
Content-Length body...) and the same records, DIR/conn-N.recv (every
decrypted byte received), DIR/conn-N.sent, DIR/conn-N.done (created last)
and DIR/requests.jsonl (one line per request with its head exactly as the
client wrote it before encryption; /echo answers with that head).
--rcvbuf sets SO_RCVBUF on the listening socket, so accepted connections
advertise a small window and a fast writer fills its send buffer.

A connection the peer closes itself (HTTP/1.0, "Connection: close", /close,
/truncated, /empty) drops its TLS session first, and bytes arriving after
that are recorded as they came (TLS records). A client that closes without
close_notify ends its connection as a clean end of stream. The peer exits
by itself after --lifetime seconds (default 100).

tls_server.py shares this module's argument, context and start-up helpers.
"""
import argparse
import os
import socket
import ssl
import sys
import threading
import time

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http_peer  # noqa: E402


def arg_parser():
    """The options every TLS test server takes: --port-file, --dir,
    --cert, --key and --lifetime."""
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--lifetime", type=float, default=100)
    return p


def server_context(opts, ignore_unexpected_eof=False):
    """A TLS server context with --cert and --key, HTTP/1.1 only over ALPN
    (a client offering h2 must not get it)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(opts.cert, opts.key)
    ctx.set_alpn_protocols(["http/1.1"])
    if ignore_unexpected_eof:
        ctx.options |= getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    return ctx


def announce(opts, port):
    """Writes PORT to --port-file (atomically) and makes the process exit
    by itself after --lifetime seconds."""
    tmp = opts.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, opts.port_file)
    threading.Timer(opts.lifetime, lambda: os._exit(0)).start()


def main():
    p = arg_parser()
    p.add_argument("--first-sleep", type=float, default=0)
    p.add_argument("--rcvbuf", type=int, default=0)
    opts = p.parse_args()
    opts.slow = False
    os.makedirs(opts.dir, exist_ok=True)
    ctx = server_context(opts, ignore_unexpected_eof=True)

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if opts.rcvbuf:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, opts.rcvbuf)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    announce(opts, srv.getsockname()[1])

    def handle(sock, n):
        sock.settimeout(30)
        try:
            tls = ctx.wrap_socket(sock, server_side=True)
        except OSError as e:     # ssl.SSLError included
            sock.close()
            with open(os.path.join(opts.dir, "conn-%d.handshake" % n), "w") as f:
                f.write("%s\n" % e)
            open(os.path.join(opts.dir, "conn-%d.done" % n), "w").close()
            return
        if opts.first_sleep:
            time.sleep(opts.first_sleep)
        http_peer.handle(tls, n, opts)

    n = 0
    while True:
        sock, _ = srv.accept()
        n += 1
        threading.Thread(target=handle, args=(sock, n), daemon=True).start()


if __name__ == "__main__":
    main()
