"""Python's http.server over TLS, as an unmodified HTTPS service would run
it: SimpleHTTPRequestHandler serving a directory, the listening socket
wrapped with ssl so that every accepted connection is a TLS session.

    python3 tls_server.py --port-file FILE --dir DIR --cert PEM --key PEM
                          [--single] [--lifetime SECONDS]

A ThreadingHTTPServer (a thread per connection), or with --single the plain
HTTPServer (one connection at a time, on the main thread), on 127.0.0.1 on
a port the kernel picks, written to --port-file once listening. HTTP/1.1
with keep-alive (ALPN offers http/1.1 only). Exits by itself after
--lifetime seconds (default 100).
"""
import functools
import http.server
import os
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tls_peer import announce, arg_parser, server_context  # noqa: E402


def main():
    p = arg_parser()
    p.add_argument("--single", action="store_true")
    opts = p.parse_args()

    class Handler(http.server.SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

    handler = functools.partial(Handler, directory=opts.dir)
    cls = http.server.HTTPServer if opts.single else http.server.ThreadingHTTPServer
    srv = cls(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    srv.socket = server_context(opts).wrap_socket(srv.socket, server_side=True)
    announce(opts, srv.server_address[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
