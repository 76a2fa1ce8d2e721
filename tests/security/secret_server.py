"""An HTTP service that hands out secrets: every GET (origin-form or a
proxy's absolute-form target) gets 200 with a session cookie
(Set-Cookie), a token header and a short body, and every request's target
and headers go to the log, so a test can tell what reached the service.

    python3 secret_server.py --port-file FILE --log FILE --cookie VALUE
                             [--lifetime SECONDS]

A ThreadingHTTPServer on 127.0.0.1 (tests/support/serve.py); one JSON line
per request in --log: {"target", "headers": [[name, value], ...]}.
"""
import argparse
import http.server
import json
import os
import sys
import threading

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from serve import serve  # noqa: E402

LOCK = threading.Lock()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--cookie", required=True)
    p.add_argument("--lifetime", type=float, default=100)
    opts = p.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            with LOCK, open(opts.log, "a") as f:
                f.write(json.dumps({"target": self.path, "headers": self.headers.items()}) + "\n")
            body = b"ok\n"
            self.send_response(200)
            self.send_header("Set-Cookie", "session=%s; HttpOnly; Path=/" % opts.cookie)
            self.send_header("X-Session-Token", opts.cookie)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    serve(Handler, opts.port_file, opts.lifetime)


if __name__ == "__main__":
    main()
