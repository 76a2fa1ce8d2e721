#!/usr/bin/python3
"""A pod's life without a cluster, for tests/image/pod_simulation.sh.

    pod.py admit URL CA POD_JSON OUT_JSON --name NAME --node NODE
                 [--server-name DNS_NAME]

The API server's part: sends POD_JSON as an AdmissionReview v1 CREATE to the
webhook at URL (https://127.0.0.1:PORT/PATH) the way the API server calls a
webhook Service: POST PATH?timeout=5s, Content-Type application/json, over
TLS verified against the CA bundle CA for the Service's name DNS_NAME
(default otelpreload-webhook.otelpreload-system.svc; also the SNI and
Host), offering h2 and http/1.1 as Go's client does. It checks the answer
as the API server would (HTTP 200, an AdmissionReview v1 echoing the uid,
allowed, a base64 JSONPatch), applies the patch with python3-jsonpatch, then
names the pod NAME and binds it to NODE as the API server and the scheduler
would, and writes it to OUT_JSON. It prints the review's uid and the number
of operations.

    pod.py run POD_JSON CONTAINER ROOT --volume NAME=DIR... [--init]
               [--image LAYOUT] [--image-defaults] [--command ARG...]

The kubelet's part, for one container (--init: an init container) of the
pod: its root filesystem is the directory ROOT, each volume NAME it mounts
is the directory DIR. With --image, the container's image is read from the
OCI layout LAYOUT (the image's tag must be the layout's) and its config
gives the entrypoint, command, user, environment and working directory;
without, the container needs a command. The process gets what the kubelet
and the runtime would give it:
  - argv from the container's command/args and the image's
    Entrypoint/Cmd, by Kubernetes' rules, $(VAR) expanded;
  - exactly the image's Env and the container's env, in the container's
    order, each value with $(VAR) expanded from the variables before it
    (Kubernetes' expansion: $$ is $, an unknown $(VAR) stays as written),
    fieldRef values from the pod (metadata.name, metadata.namespace,
    spec.nodeName, ...); nothing else (no service links);
  - the user of securityContext.runAsUser/runAsGroup, else the image's
    numeric USER; runAsNonRoot refuses uid 0 or a non-numeric user;
  - a chroot into ROOT in a private mount namespace, read-only when
    readOnlyRootFilesystem, the volumes bind-mounted at their mountPath
    (read-only when readOnly), the host's /proc at /proc;
  - no_new_privs when allowPrivilegeEscalation is false.
As root the process runs under that uid and gid (so without capabilities);
otherwise in a user namespace (unshare -rm), as its uid 0, which is said on
stderr. --image-defaults ignores the container's command and args, as
`docker run IMAGE` would; --command replaces argv, as `kubectl exec` would,
with the container's environment. --record FILE writes what was run (argv,
env, uid, gid, cwd, mounts) to FILE as JSON first. The exit status is the
process's.
"""
import base64
import ctypes
import json
import os
import subprocess
import sys
import uuid

PR_SET_NO_NEW_PRIVS = 38


def die(msg):
    sys.exit("pod.py: " + msg)


# ---- the API server's part ------------------------------------------------------

SERVICE_NAME = "otelpreload-webhook.otelpreload-system.svc"


def admit(argv):
    import http.client
    import socket
    import ssl
    import urllib.parse

    import jsonpatch

    sys.dont_write_bytecode = True     # no __pycache__ in the source tree
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
    import admission

    url, ca, pod_path, out = argv[:4]
    opts = dict(zip(argv[4::2], argv[5::2]))
    server_name = opts.get("--server-name", SERVICE_NAME)
    u = urllib.parse.urlsplit(url)
    if u.scheme != "https" or u.hostname != "127.0.0.1" or not u.port:
        die("admit: %s is not https://127.0.0.1:PORT/PATH" % url)
    pod = json.load(open(pod_path))
    uid = str(uuid.uuid4())
    body = json.dumps(admission.review(
        uid, pod["metadata"]["namespace"], pod,
        {"username": "system:serviceaccount:kube-system:replicaset-controller",
         "uid": "8d4f3b0e-6a21-4c7e-9f0d-2b5e7a1c3d90",
         "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system",
                    "system:authenticated"]})).encode()

    # The CA bundle of the webhook configuration, the Service's DNS name
    # checked against the certificate, nothing looser.
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    raw = socket.create_connection(("127.0.0.1", u.port), timeout=10)
    try:
        tls = ctx.wrap_socket(raw, server_hostname=server_name)
    except (ssl.SSLError, OSError) as e:
        die("TLS to %s as %s: %s" % (url, server_name, e))
    alpn = tls.selected_alpn_protocol()
    if alpn not in (None, "http/1.1"):
        die("the webhook chose %s over ALPN: it serves HTTP/1.1 only" % alpn)
    conn = http.client.HTTPConnection(server_name, 443, timeout=10)
    conn.sock = tls
    path = (u.path or "/") + "?timeout=5s"
    conn.request("POST", path, body=body, headers={
        "Content-Type": "application/json",
        "Accept": "application/json, */*",
        "User-Agent": "kube-apiserver-admission",
    })
    resp = conn.getresponse()
    text = resp.read()
    version = tls.version()
    conn.close()
    if resp.status != 200:
        die("POST %s answered %d: %r" % (path, resp.status, text[:300]))
    ctype = resp.getheader("Content-Type", "")
    if ctype.split(";")[0].strip().lower() != "application/json":
        die("POST %s answered Content-Type %r" % (path, ctype))
    try:
        review = json.loads(text)
    except ValueError as e:
        die("the answer is not JSON (%s): %r" % (e, text[:300]))
    if review.get("apiVersion") != "admission.k8s.io/v1" or review.get("kind") != "AdmissionReview":
        die("the answer is not an AdmissionReview v1: %r" % text[:300])
    r = review.get("response") or {}
    if r.get("uid") != uid or r.get("allowed") is not True:
        die("the review was not allowed or lost its uid: %s" % json.dumps(r))
    if r.get("patchType") != "JSONPatch" or "patch" not in r:
        die("no JSONPatch in the response: %s" % json.dumps(r))
    ops = json.loads(base64.b64decode(r["patch"], validate=True))
    patched = jsonpatch.apply_patch(pod, ops)
    meta = patched["metadata"]
    meta["name"] = opts["--name"]
    meta["uid"] = str(uuid.uuid4())
    patched["spec"]["nodeName"] = opts["--node"]
    with open(out, "w") as f:
        json.dump(patched, f, indent=1)
    print("uid=%s: the webhook answered %d JSONPatch operations (TLS as %s, %s)%s" % (
        uid, len(ops), server_name, version,
        "; warnings: %s" % r["warnings"] if r.get("warnings") else ""))


# ---- the kubelet's part ----------------------------------------------------------

def expand(s, env):
    """Kubernetes' $(VAR) expansion (third_party/forked/golang/expansion)."""
    out, i = [], 0
    while i < len(s):
        if s[i] == "$" and i + 1 < len(s):
            nxt = s[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = s.find(")", i + 2)
                if end >= 0:
                    name = s[i + 2:end]
                    out.append(env[name] if name in env else "$(%s)" % name)
                    i = end + 1
                    continue
                out.append("$(")
                i += 2
                continue
            out.append("$" + nxt)
            i += 2
            continue
        out.append(s[i])
        i += 1
    return "".join(out)


def field(pod, path):
    fields = {
        "metadata.name": pod["metadata"].get("name"),
        "metadata.namespace": pod["metadata"].get("namespace"),
        "metadata.uid": pod["metadata"].get("uid"),
        "spec.nodeName": pod["spec"].get("nodeName"),
        "spec.serviceAccountName": pod["spec"].get("serviceAccountName", "default"),
        "status.podIP": "127.0.0.1",
        "status.hostIP": "127.0.0.1",
    }
    if fields.get(path) is None:
        die("fieldRef %s: not simulated or not set" % path)
    return fields[path]


def image_config(layout, image):
    """The config of the container's image in the OCI layout: by digest for
    NAME[:TAG]@sha256:HEX (as a runtime pulls it: the digest decides), else
    by tag."""
    index = json.load(open(os.path.join(layout, "index.json")))
    name, _, digest = image.partition("@")
    if digest:
        found = [m for m in index["manifests"] if m.get("digest") == digest]
        what = "digest " + digest
    else:
        tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else "latest"
        found = [m for m in index["manifests"]
                 if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
        what = "tag " + tag
    if len(found) != 1:
        die("the layout %s has no image of %s (the container's image is %s)" % (layout, what, image))

    def blob(digest):
        algo, hexa = digest.split(":")
        return json.load(open(os.path.join(layout, "blobs", algo, hexa)))
    return blob(blob(found[0]["digest"])["config"]["digest"])


def numeric_user(user):
    uid, _, gid = user.partition(":")
    if not uid.isdigit() or (gid and not gid.isdigit()):
        return None
    return int(uid), int(gid) if gid else None


def run(argv):
    pod_path, name, root = argv[0], argv[1], os.path.abspath(argv[2])
    rest, volumes, init, layout, defaults, command = argv[3:], {}, False, None, False, None
    record = None
    while rest:
        a = rest.pop(0)
        if a == "--volume":
            k, _, v = rest.pop(0).partition("=")
            volumes[k] = os.path.abspath(v)
        elif a == "--init":
            init = True
        elif a == "--image":
            layout = rest.pop(0)
        elif a == "--image-defaults":
            defaults = True
        elif a == "--record":
            record = rest.pop(0)
        elif a == "--command":
            command, rest = rest, []
        else:
            die("unknown option " + a)
    pod = json.load(open(pod_path))
    spec = pod["spec"]
    pool = spec.get("initContainers", []) if init else spec["containers"]
    found = [c for c in pool if c["name"] == name]
    if len(found) != 1:
        die("the pod has no %scontainer %s" % ("init " if init else "", name))
    c = found[0]
    cfg = image_config(layout, c["image"]).get("config", {}) if layout else {}

    env = {}
    for kv in cfg.get("Env") or []:
        k, _, v = kv.partition("=")
        env[k] = v
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = expand(e["value"], env)
        elif "fieldRef" in e.get("valueFrom", {}):
            env[e["name"]] = field(pod, e["valueFrom"]["fieldRef"]["fieldPath"])
        elif "valueFrom" in e:
            die("env %s: only fieldRef is simulated" % e["name"])
        else:
            env[e["name"]] = ""
    if c.get("envFrom"):
        die("envFrom is not simulated")

    cmd, args = (None, None) if defaults else (c.get("command"), c.get("args"))
    if cmd:
        args = [expand(a, env) for a in cmd] + [expand(a, env) for a in args or []]
    elif args:
        args = (cfg.get("Entrypoint") or []) + [expand(a, env) for a in args]
    else:
        args = (cfg.get("Entrypoint") or []) + (cfg.get("Cmd") or [])
    if command:
        args = command
    if not args:
        die("container %s has nothing to run" % name)

    sc = dict(spec.get("securityContext") or {})
    sc.update(c.get("securityContext") or {})
    uid, gid = sc.get("runAsUser"), sc.get("runAsGroup")
    if uid is None:
        user = numeric_user(cfg.get("User") or "0")
        if user is None:
            if sc.get("runAsNonRoot"):
                die("container has runAsNonRoot and image has non-numeric user (%s), "
                    "cannot verify user is non-root" % cfg.get("User"))
            die("user %s: only numeric users are simulated" % cfg.get("User"))
        uid, image_gid = user
        gid = gid if gid is not None else image_gid
    gid = gid if gid is not None else 0
    if sc.get("runAsNonRoot") and uid == 0:
        die("container has runAsNonRoot and image will run as root")

    mounts = []
    for m in c.get("volumeMounts", []):
        if m["name"] not in volumes:
            die("volume %s of container %s: no --volume for it" % (m["name"], name))
        mounts.append((volumes[m["name"]], m["mountPath"], bool(m.get("readOnly"))))
    plan = {
        "root": root, "ro_root": bool(sc.get("readOnlyRootFilesystem")), "mounts": mounts,
        "uid": uid, "gid": gid, "no_new_privs": sc.get("allowPrivilegeEscalation") is False,
        "cwd": c.get("workingDir") or cfg.get("WorkingDir") or "/", "argv": args, "env": env,
    }
    if record:
        with open(record, "w") as f:
            json.dump(plan, f, indent=1)
    ns = ["unshare", "-m", "--propagation", "private"] if os.getuid() == 0 else ["unshare", "-rm"]
    os.execvp(ns[0], ns + [sys.executable, os.path.abspath(__file__), "enter", json.dumps(plan)])


def mount(*args):
    r = subprocess.run(["mount"] + list(args), capture_output=True, text=True)
    if r.returncode != 0:
        die("mount %s: %s" % (" ".join(args), r.stderr.strip()))


def enter(argv):
    p = json.loads(argv[0])
    root = p["root"]
    # Mount points are made before the root turns read-only, as a runtime
    # makes them in the container's root filesystem.
    for _, at, _ in p["mounts"]:
        os.makedirs(root + at, exist_ok=True)
    os.makedirs(root + "/proc", exist_ok=True)
    if p["ro_root"]:
        mount("--bind", root, root)
        mount("-o", "remount,bind,ro", root)
    mount("--rbind", "/proc", root + "/proc")
    for src, at, ro in p["mounts"]:
        mount("--bind", src, root + at)
        if ro:
            mount("-o", "remount,bind,ro", root + at)
    os.chroot(root)
    os.chdir(p["cwd"])
    if p["uid"] != 0:
        try:
            os.setgroups([])
            os.setgid(p["gid"])
            os.setuid(p["uid"])
        except OSError as e:
            # In a user namespace of our own (unshare -r) only uid 0 is mapped.
            print("pod.py: cannot become %d:%d (%s): running as uid 0 of a user namespace"
                  % (p["uid"], p["gid"], e.strerror), file=sys.stderr)
    if p["no_new_privs"]:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            die("prctl(PR_SET_NO_NEW_PRIVS): %s" % os.strerror(ctypes.get_errno()))
    prog = p["argv"][0]
    if "/" not in prog:
        for d in p["env"].get("PATH", "").split(":"):
            if d and os.access(os.path.join(d, prog), os.X_OK):
                prog = os.path.join(d, prog)
                break
    os.execve(prog, p["argv"], p["env"])


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("admit", "run", "enter"):
        die("usage: pod.py admit|run ... (see the comment at the top)")
    {"admit": admit, "run": run, "enter": enter}[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
