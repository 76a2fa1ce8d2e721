"""The service under test of the W3C Trace Context checks (w3c_harness.py):
a plain Python program with no tracing code, run under the library.

    python3 w3c_service.py --port-file FILE [--lifetime SECONDS]

A ThreadingHTTPServer on 127.0.0.1 (port written to --port-file). POST /
with a JSON body [{"url": URL, "arguments": ANY}, ...] makes, in order and
on the serving thread, one urllib POST of each URL whose body is the JSON
of its "arguments", then answers 200 with a JSON list of the callbacks'
statuses. The program never reads or writes a trace header: whatever the
callbacks carry comes from the library. Exits by itself after --lifetime
seconds (default 100).
"""
import argparse
import http.server
import json
import urllib.error
import urllib.request

from serve import serve


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--lifetime", type=float, default=100)
    opts = p.parse_args()

    class Service(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            try:
                calls = json.loads(self.rfile.read(n) or b"[]")
            except ValueError:
                return self.answer(400, {"error": "body is not JSON"})
            out = []
            for call in calls:
                body = json.dumps(call.get("arguments", [])).encode()
                req = urllib.request.Request(call["url"], data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(req, timeout=10) as r:
                        r.read()
                        out.append(r.status)
                except urllib.error.HTTPError as e:
                    out.append(e.code)
                except OSError as e:
                    out.append(str(e))
            self.answer(200, out)

        def answer(self, code, what):
            body = (json.dumps(what) + "\n").encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    serve(Service, opts.port_file, opts.lifetime)


if __name__ == "__main__":
    main()
