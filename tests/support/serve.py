"""Runs a test HTTP server the way every Python peer of the test suite does:
threads per request, on 127.0.0.1 and a port the kernel picks, written
atomically to a file once listening, and gone by itself after a lifetime.
"""
import http.server
import os
import threading


def serve(handler, port_file, lifetime):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, port_file)
    threading.Timer(lifetime, lambda: os._exit(0)).start()
    srv.serve_forever()
