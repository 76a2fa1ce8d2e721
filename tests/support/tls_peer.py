"""http_peer.py over TLS: the same answers and the same records, with every
accepted connection wrapped in a TLS server session.

    python3 tls_peer.py --port-file FILE --dir DIR --cert PEM --key PEM
                        [--lifetime SECONDS]

Listens on 127.0.0.1 on a port the kernel picks, written to --port-file
once listening. Each connection N is served by its own thread: the TLS
handshake first (a failed one is logged in DIR/conn-N.handshake and ends
the connection), then http_peer.py's serve loop on the decrypted stream, so
DIR/requests.jsonl holds every request head exactly as the client wrote it
before encryption, and /echo answers with that head. DIR/conn-N.recv and
.sent hold the decrypted bytes, except that a connection the peer closes
itself ("Connection: close", /close...) drops its TLS session first, and
whatever arrives after that is recorded as it came (TLS records). The peer
exits by itself after --lifetime seconds (default 100).
"""
import argparse
import os
import socket
import ssl
import sys
import threading

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http_peer  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--lifetime", type=float, default=100)
    opts = p.parse_args()
    opts.slow = False
    os.makedirs(opts.dir, exist_ok=True)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(opts.cert, opts.key)
    # HTTP/1.1 only: a client offering h2 must not get it.
    ctx.set_alpn_protocols(["http/1.1"])

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    tmp = opts.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    os.rename(tmp, opts.port_file)
    threading.Timer(opts.lifetime, lambda: os._exit(0)).start()

    def handle(sock, n):
        sock.settimeout(30)
        try:
            tls = ctx.wrap_socket(sock, server_side=True)
        except (OSError, ssl.SSLError) as e:
            sock.close()
            with open(os.path.join(opts.dir, "conn-%d.handshake" % n), "w") as f:
                f.write("%s\n" % e)
            open(os.path.join(opts.dir, "conn-%d.done" % n), "w").close()
            return
        http_peer.handle(tls, n, opts)

    n = 0
    while True:
        sock, _ = srv.accept()
        n += 1
        threading.Thread(target=handle, args=(sock, n), daemon=True).start()


if __name__ == "__main__":
    main()
