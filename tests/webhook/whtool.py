"""Clients and checks for the otelpreload-webhook tests (tests/webhook/*.sh).

    whtool.py review OUT [--annotate VALUE] [--uid UID] [--namespace NS]
        writes an AdmissionReview v1 request for a realistic Deployment pod
        (in namespace "shop" unless NS is given)
    whtool.py check-patched REQUEST RESPONSE IMAGE ENDPOINT
        the response is a valid AdmissionReview whose patch, applied with
        python3-jsonpatch, yields the injected pod
    whtool.py check-unpatched REQUEST|- RESPONSE
        allowed, no patch, the request's uid (or "" for "-")
    whtool.py raw PORT CA REQUEST_FILE|-
        one TLS connection, the bytes of REQUEST_FILE (for "-", stdin with
        Python escapes, less one final newline); prints the status code and "closed" if the server
        closed afterwards
    whtool.py huge PORT CA SIZE
        a head announcing SIZE bytes, then streams the body without waiting:
        prints the status and the seconds until it came
    whtool.py slow PORT CA N SECONDS OUT
        N slow clients for at most SECONDS: a third complete the handshake
        and send a head a byte at a time, a third send half a ClientHello,
        a third only connect. Writes to OUT, one line per client, how long
        the server took to cut it off (or "open" if it never did)
    whtool.py inflight PORT CA BODY_FILE DELAY OUT
        sends a review's head and half its body, waits DELAY seconds, sends
        the rest; writes the status to OUT

Every connection goes to 127.0.0.1 only, and every loop is bounded.
"""
import base64
import json
import os
import socket
import ssl
import sys
import threading
import time

import jsonpatch

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import admission  # noqa: E402

HOST = "127.0.0.1"


def die(msg):
    print("whtool: " + msg, file=sys.stderr)
    sys.exit(1)


def pod(annotate, namespace):
    annotations = {"kubectl.kubernetes.io/restartedAt": "2026-11-20T10:00:00Z"}
    if annotate is not None:
        annotations["otelpreload.dev/inject"] = annotate
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "checkout-7d9f8c6b5-",
            "namespace": namespace,
            "labels": {"app.kubernetes.io/name": "checkout", "pod-template-hash": "7d9f8c6b5"},
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "checkout-7d9f8c6b5",
                "uid": "5c1b0f7e-3f8e-4d52-9a55-1d0f6c8a2b11", "controller": True,
                "blockOwnerDeletion": True,
            }],
        },
        "spec": {
            "containers": [{
                "name": "app",
                "image": "registry.example/checkout:2.4.1",
                "ports": [{"containerPort": 8080, "name": "http"}],
                "env": [{"name": "DB_PASSWORD", "value": "s3cr3t-never-logged"}],
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                "volumeMounts": [{"name": "kube-api-access-x1", "mountPath":
                                  "/var/run/secrets/kubernetes.io/serviceaccount",
                                  "readOnly": True}],
            }],
            "volumes": [{"name": "kube-api-access-x1", "projected": {"sources": [
                {"serviceAccountToken": {"path": "token"}}]}}],
            "serviceAccountName": "default",
            "restartPolicy": "Always",
        },
    }


def cmd_review(args):
    out, annotate, uid = args[0], None, "a7e5c2d4-1b3f-4e6a-9c8d-0f1e2d3c4b5a"
    namespace = "shop"
    rest = args[1:]
    while rest:
        if rest[0] == "--annotate":
            annotate = rest[1]
        elif rest[0] == "--uid":
            uid = rest[1]
        elif rest[0] == "--namespace":
            namespace = rest[1]
        else:
            die("review: unknown option " + rest[0])
        rest = rest[2:]
    review = admission.review(
        uid, namespace, pod(annotate, namespace),
        {"username": "system:serviceaccount:kube-system:replicaset-controller",
         "groups": ["system:serviceaccounts", "system:authenticated"]})
    with open(out, "w") as f:
        json.dump(review, f)


def load_response(path):
    with open(path) as f:
        text = f.read()
    try:
        r = json.loads(text)
    except ValueError as e:
        die("the response is not JSON (%s): %r" % (e, text[:200]))
    if r.get("apiVersion") != "admission.k8s.io/v1" or r.get("kind") != "AdmissionReview":
        die("not an AdmissionReview v1: %r" % text[:200])
    resp = r.get("response")
    if not isinstance(resp, dict) or resp.get("allowed") is not True:
        die("response.allowed is not true: %r" % text[:200])
    return resp


def cmd_check_patched(args):
    req_path, resp_path, image, endpoint = args
    with open(req_path) as f:
        request = json.load(f)["request"]
    resp = load_response(resp_path)
    if resp.get("uid") != request["uid"]:
        die("uid %r, expected %r" % (resp.get("uid"), request["uid"]))
    if resp.get("patchType") != "JSONPatch" or "patch" not in resp:
        die("no JSONPatch in %r" % resp)
    ops = json.loads(base64.b64decode(resp["patch"], validate=True))
    before = request["object"]
    after = jsonpatch.apply_patch(before, ops)
    spec = after["spec"]
    inits = [c for c in spec.get("initContainers", []) if c.get("name") == "otelpreload-init"]
    if len(inits) != 1 or inits[0].get("image") != image:
        die("no otelpreload-init container with image %s: %r" % (image, spec.get("initContainers")))
    vols = [v for v in spec.get("volumes", []) if v.get("name") == "otelpreload"]
    if len(vols) != 1 or vols[0].get("emptyDir", {}).get("sizeLimit") != "200Mi":
        die("no otelpreload emptyDir of 200Mi: %r" % spec.get("volumes"))
    if spec["volumes"][0] != before["spec"]["volumes"][0]:
        die("the pod's own volume changed")
    app = spec["containers"][0]
    mounts = [m for m in app.get("volumeMounts", []) if m.get("name") == "otelpreload"]
    if len(mounts) != 1 or mounts[0].get("mountPath") != "/otelpreload":
        die("no mount of otelpreload at /otelpreload: %r" % app.get("volumeMounts"))
    env = {e["name"]: e for e in app.get("env", [])}
    pre = env.get("LD_PRELOAD", {}).get("value", "")
    if not pre.startswith("/otelpreload/") or "libotelpreload.so" not in pre:
        die("LD_PRELOAD is %r" % pre)
    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT", {}).get("value") != endpoint:
        die("OTEL_EXPORTER_OTLP_ENDPOINT is %r, expected %r" %
            (env.get("OTEL_EXPORTER_OTLP_ENDPOINT"), endpoint))
    if env.get("OTEL_SERVICE_NAME", {}).get("value") != "checkout":
        die("OTEL_SERVICE_NAME is %r" % env.get("OTEL_SERVICE_NAME"))
    if env.get("DB_PASSWORD", {}).get("value") != "s3cr3t-never-logged":
        die("the container's own env changed")


def cmd_check_unpatched(args):
    req_path, resp_path = args
    resp = load_response(resp_path)
    uid = ""
    if req_path != "-":
        with open(req_path) as f:
            uid = json.load(f)["request"]["uid"]
    if resp.get("uid") != uid:
        die("uid %r, expected %r" % (resp.get("uid"), uid))
    if "patch" in resp or "patchType" in resp:
        die("a patch where none was expected: %r" % resp)


def tls_context(ca):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
    return ctx


def connect(port, ca, timeout=10):
    raw = socket.create_connection((HOST, int(port)), timeout=timeout)
    return tls_context(ca).wrap_socket(raw)


def read_response(s, limit=1 << 20):
    """The status code of the first response, and whether the server then
    closed the connection (EOF within 3 s of the response)."""
    data = b""
    while b"\r\n\r\n" not in data and len(data) < limit:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    if not data.startswith(b"HTTP/1.1 "):
        return None, True
    status = int(data[9:12])
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    s.settimeout(3)
    closed = False
    try:
        closed = s.recv(1) == b""
    except (socket.timeout, TimeoutError):
        closed = False
    except (ssl.SSLError, OSError):
        closed = True
    return status, closed


def cmd_raw(args):
    port, ca, src = args
    if src == "-":
        # A here-string's newline is not part of the request.
        text = sys.stdin.read()
        if text.endswith("\n"):
            text = text[:-1]
        payload = text.encode("latin-1").decode("unicode_escape").encode("latin-1")
    else:
        with open(src, "rb") as f:
            payload = f.read()
    s = connect(port, ca)
    s.sendall(payload)
    status, closed = read_response(s)
    print(status, "closed" if closed else "open")


def cmd_huge(args):
    port, ca, size = args[0], args[1], int(args[2])
    s = connect(port, ca)
    head = ("POST /mutate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n" % size).encode()
    t0 = time.monotonic()
    s.sendall(head)
    result = {}

    def reader():
        try:
            result["status"], _ = read_response(s)
        except OSError:
            result["status"] = None
        result["t"] = time.monotonic() - t0

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    chunk = b"{" * 65536
    sent = 0
    s.settimeout(5)
    while sent < size and th.is_alive() and time.monotonic() - t0 < 20:
        try:
            s.sendall(chunk)
        except OSError:
            break
        sent += len(chunk)
    th.join(10)
    print(result.get("status"), "%.2f" % result.get("t", 99), sent)


def cmd_slow(args):
    port, ca, n, seconds, out = args[0], args[1], int(args[2]), float(args[3]), args[4]
    results = [None] * n
    ctx = tls_context(ca)

    def slow_head(i):
        t0 = time.monotonic()
        try:
            s = ctx.wrap_socket(socket.create_connection((HOST, int(port)), timeout=seconds))
            t0 = time.monotonic()
            head = b"POST /mutate HTTP/1.1\r\nHost: webhook\r\nX-Slow: " + b"a" * 400
            for b in head:
                if time.monotonic() - t0 > seconds:
                    results[i] = "open"
                    return
                s.send(bytes([b]))
                time.sleep(0.25)
            results[i] = "open"
        except OSError:
            results[i] = "%.1f" % (time.monotonic() - t0)

    def sends_then_waits(i, first):
        """Connects, sends first (maybe nothing), then only waits."""
        t0 = time.monotonic()
        try:
            s = socket.create_connection((HOST, int(port)), timeout=seconds)
            if first:
                s.sendall(first)
            s.settimeout(seconds)
            r = s.recv(100)
            results[i] = "%.1f" % (time.monotonic() - t0) if r == b"" else "data"
        except (socket.timeout, TimeoutError):
            results[i] = "open"
        except OSError:
            results[i] = "%.1f" % (time.monotonic() - t0)

    def half_hello(i):
        sends_then_waits(i, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")

    def silent(i):
        sends_then_waits(i, b"")

    kinds = [slow_head, half_hello, silent]
    threads = [threading.Thread(target=kinds[i % 3], args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 5)
    with open(out, "w") as f:
        for i, r in enumerate(results):
            f.write("%s %s\n" % (kinds[i % 3].__name__, r or "open"))


def cmd_inflight(args):
    port, ca, body_file, delay, out = args[0], args[1], args[2], float(args[3]), args[4]
    with open(body_file, "rb") as f:
        body = f.read()
    s = connect(port, ca, timeout=30)
    head = ("POST /mutate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n" % len(body)).encode()
    s.sendall(head + body[:len(body) // 2])
    with open(out + ".started", "w") as f:
        f.write("1\n")
    time.sleep(delay)
    s.sendall(body[len(body) // 2:])
    status, closed = read_response(s)
    with open(out, "w") as f:
        f.write("%s %s\n" % (status, "closed" if closed else "open"))


COMMANDS = {
    "review": cmd_review,
    "check-patched": cmd_check_patched,
    "check-unpatched": cmd_check_unpatched,
    "raw": cmd_raw,
    "huge": cmd_huge,
    "slow": cmd_slow,
    "inflight": cmd_inflight,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        die("usage: whtool.py %s ..." % "|".join(COMMANDS))
    COMMANDS[sys.argv[1]](sys.argv[2:])
