"""A server that starts a program for each request, as a CGI server does.

    exec_server.py PORT_FILE COUNT CLOSE_FDS PROGRAM [ARGS...]

Serves COUNT GET requests on 127.0.0.1 (port chosen by the kernel, written
to PORT_FILE), one at a time on the main thread, then exits. Each request
runs PROGRAM ARGS with subprocess (vfork, then exec, in CPython's
_posixsubprocess; close_fds=CLOSE_FDS, 0 or 1: the child closes every fd
above 2 with close_range before exec) and answers 200 with its standard
output.
"""
import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        out = subprocess.run(sys.argv[4:], stdout=subprocess.PIPE, timeout=30,
                             close_fds=sys.argv[3] == "1").stdout
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


def main():
    server = HTTPServer(("127.0.0.1", 0), Handler)
    server.timeout = 60
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    for _ in range(int(sys.argv[2])):
        server.handle_request()
    server.server_close()


main()
