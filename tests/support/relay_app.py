"""A plain Python web service with no tracing code of its own: while serving
a request it calls another service, as the apps behind a service mesh do.

    python3 relay_app.py --port-file FILE --upstream URL [--lifetime SECONDS]

A ThreadingHTTPServer (one thread per request) on 127.0.0.1, on a port the
kernel picks, written to --port-file once listening. GET /PATH?QUERY makes
one urllib GET of URL/PATH?QUERY on the serving thread and answers with the
upstream's status and body. It copies no header of the inbound request: any
header the upstream receives beyond urllib's own was put there by someone
else (the preloaded library). A query parameter own=NAME:VALUE (repeatable)
adds that header to the outbound request, as an application that sets its
own header would. Exits by itself after --lifetime seconds (default 100).
"""
import argparse
import http.server
import urllib.error
import urllib.parse
import urllib.request

from serve import serve


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--lifetime", type=float, default=100)
    opts = p.parse_args()

    class Relay(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            query = urllib.parse.urlsplit(self.path).query
            own = {}
            for v in urllib.parse.parse_qs(query).get("own", []):
                name, _, value = v.partition(":")
                own[name] = value
            req = urllib.request.Request(opts.upstream + self.path, headers=own)
            try:
                with urllib.request.urlopen(req, timeout=20) as r:
                    code, body = r.status, r.read()
            except urllib.error.HTTPError as e:
                code, body = e.code, e.read()
            except OSError as e:
                code, body = 502, ("upstream failed: %s\n" % e).encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    serve(Relay, opts.port_file, opts.lifetime)


if __name__ == "__main__":
    main()
