"""A fake Kubernetes API server for the webhook's namespace annotations.

    fakeapi.py PORT_FILE LOG CERT KEY TOKEN_FILE LIFETIME SLOW_SECONDS

Serves HTTPS on 127.0.0.1 (a free port, written to PORT_FILE) with the pair
CERT, KEY, and stops by itself after LIFETIME seconds. Only
GET /api/v1/namespaces/NAME, and only with "Authorization: Bearer TOKEN"
where TOKEN is TOKEN_FILE's content at the time of the request (a test
rotates it); otherwise 401, as the API server answers. Namespaces:

    annotated*   otelpreload.dev/inject: "true" (and other annotations)
    optout*      otelpreload.dev/inject: "false"
    plain*       annotations, none of them ours
    bare*        no annotations at all
    slow*        annotated, but answers after SLOW_SECONDS
    broken*      500
    anything else  404

Answers are chunked, as the API server's often are. LOG gets one line per
request, written before the answer: "GET PATH auth=ok|bad partial=0|1",
partial=1 when the client asked for PartialObjectMetadata.
"""
import http.server
import json
import os
import socketserver
import ssl
import sys
import threading
import time

PREFIX = "/api/v1/namespaces/"


def namespace(name, annotations):
    meta = {
        "name": name,
        "uid": "7f3b7a6e-0c1d-4c52-9a3e-%012d" % (abs(hash(name)) % 10 ** 12),
        "resourceVersion": "4242",
        "creationTimestamp": "2026-11-01T09:00:00Z",
        "labels": {"kubernetes.io/metadata.name": name},
        "managedFields": [{
            "manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "v1",
            "time": "2026-11-01T09:00:00Z", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {".": {},
                                                     "f:kubernetes.io/metadata.name": {}}}},
        }],
    }
    if annotations is not None:
        meta["annotations"] = annotations
    return {"kind": "Namespace", "apiVersion": "v1", "metadata": meta,
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def main():
    port_file, log_path, cert, key, token_file = sys.argv[1:6]
    lifetime, slow = float(sys.argv[6]), float(sys.argv[7])
    log = open(log_path, "a", buffering=1)
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def answer(self, code, doc):
            body = json.dumps(doc).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            half = len(body) // 2
            for part in (body[:half], body[half:]):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")

        def do_GET(self):
            with open(token_file) as f:
                want = "Bearer " + f.read().strip()
            ok = self.headers.get("Authorization") == want
            partial = "as=PartialObjectMetadata" in (self.headers.get("Accept") or "")
            with lock:
                log.write("GET %s auth=%s partial=%d\n" %
                          (self.path, "ok" if ok else "bad", int(partial)))
            if not ok:
                self.answer(401, status(401, "Unauthorized", "Unauthorized"))
                return
            if not self.path.startswith(PREFIX) or "/" in self.path[len(PREFIX):]:
                self.answer(404, status(404, "NotFound", "the server could not find it"))
                return
            name = self.path[len(PREFIX):]
            ours = {"otelpreload.dev/inject": "true", "team": "shop"}
            if name.startswith("annotated"):
                self.answer(200, namespace(name, ours))
            elif name.startswith("optout"):
                self.answer(200, namespace(name, {"otelpreload.dev/inject": "false"}))
            elif name.startswith("plain"):
                self.answer(200, namespace(name, {"team": "shop",
                                                  "scheduler.alpha.kubernetes.io/node-selector":
                                                  "pool=general"}))
            elif name.startswith("bare"):
                self.answer(200, namespace(name, None))
            elif name.startswith("slow"):
                time.sleep(slow)
                try:
                    self.answer(200, namespace(name, ours))
                except OSError:
                    pass  # the client has given up, as it should
            elif name.startswith("broken"):
                self.answer(500, status(500, "InternalError", "etcdserver: request timed out"))
            else:
                self.answer(404, status(404, "NotFound", 'namespaces "%s" not found' % name))

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    srv = Server(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Timer(lifetime, srv.shutdown).start()
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
