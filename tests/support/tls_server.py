"""Python's http.server over TLS, as an unmodified HTTPS service would run
it: SimpleHTTPRequestHandler serving a directory, the listening socket
wrapped with ssl so that every accepted connection is a TLS session.

    python3 tls_server.py --port-file FILE --dir DIR --cert PEM --key PEM
                          [--single] [--lifetime SECONDS]

A ThreadingHTTPServer (a thread per connection), or with --single the plain
HTTPServer (one connection at a time, on the main thread), on 127.0.0.1 on
a port the kernel picks, written to --port-file once listening. HTTP/1.1
with keep-alive. Exits by itself after --lifetime seconds (default 100).
"""
import argparse
import functools
import http.server
import os
import ssl
import threading


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--single", action="store_true")
    p.add_argument("--lifetime", type=float, default=100)
    opts = p.parse_args()

    class Handler(http.server.SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

    handler = functools.partial(Handler, directory=opts.dir)
    cls = http.server.HTTPServer if opts.single else http.server.ThreadingHTTPServer
    srv = cls(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(opts.cert, opts.key)
    ctx.set_alpn_protocols(["http/1.1"])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    tmp = opts.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, opts.port_file)
    threading.Timer(opts.lifetime, lambda: os._exit(0)).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
