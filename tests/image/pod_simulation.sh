#!/bin/bash
# A pod's life with the init-container image, without a cluster (issue 8):
#
#  1. init-container/build-image.sh builds the image twice: same digests;
#     its config is the Dockerfile's (user 65532, entrypoint, command,
#     labels with the version), and skopeo reads back its docker-archive.
#  2. umoci unpacks it: the root holds the static installer and the
#     library tree, nothing else.
#  3. otelpreload-webhook runs on 127.0.0.1 with a CA and a serving
#     certificate made here by openssl (tests/webhook/lib.sh), its --image
#     the image built and unpacked here (NAME:VERSION@ its manifest digest).
#     pod.py sends it a Deployment's pod annotated otelpreload.dev/inject:
#     "true", with an endpoint and two of its three containers named, as the
#     API server would: an AdmissionReview v1 in POST /mutate?timeout=5s,
#     Content-Type application/json, TLS verified with the CA for the
#     Service's name. The answer's base64 JSONPatch, applied by
#     python3-jsonpatch, must add an init container of that image running
#     /otelpreload-install /otelpreload; the webhook logs the review's uid
#     as patched and stops cleanly on SIGTERM.
#  4. The init container runs as the kubelet would (tests/image/pod.py): the
#     patched pod's own command for it (checked from what pod.py ran) in a
#     chroot of the unpacked root, read-only, as the image's user 65532,
#     with a shared directory (the emptyDir) at /otelpreload. It must
#     install and verify build/dist there, owned by that user, within the
#     volume's size limit; run again with the image's own entrypoint and
#     command (a restart), it must leave the same tree.
#  5. Two application containers, each in its own root filesystem with the
#     volume read-only at /otelpreload and exactly the env the patch gave it
#     ($(VAR) and downward-API values expanded as the kubelet does): curl
#     with the libraries ldd lists (glibc), and a musl-gcc program with
#     musl's loader and nothing else (no libcurl, no TLS library). Each
#     loads its own build through the one LD_PRELOAD value, makes a GET to a
#     local peer that sees a traceparent, and exports its span to a local
#     OTLP receiver with service.name and the k8s.* resource attributes.
#
# A missing prerequisite (umoci, skopeo, mount namespaces, the musl build,
# a self-contained exporter) skips what needs it, says so, and ends the
# test with status 77 (skipped), never as passed. Run by a user other than
# root, the containers run in a user namespace as its uid 0 (unshare -rm):
# the test says so, and cannot check the owner of the installed files.
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/support/http_lib.sh"
. "$SRC/tests/webhook/lib.sh" # WEBHOOK, make_ca, make_server_cert, start_webhook, stop_webhook
POD=$SRC/tests/image/pod.py
INSTALLER=$BUILD/init-container/otelpreload-install
MUSL_APP=$BUILD/tests/image/http_get-musl
DIST=$BUILD/dist
need "$INSTALLER" "$DIST/glibc/libotelpreload.so"

SKIPPED=()
skip() {
	note "SKIPPED: $*"
	SKIPPED+=("$*")
}
NS=(unshare -m)
[ "$(id -u)" = 0 ] || NS=(unshare -rm)
if ! command -v umoci >/dev/null; then
	echo "SKIP: $TEST_NAME: umoci is not installed (bash scripts/deps.sh installs it)"
	exit 77
fi
if ! "${NS[@]}" true 2>"$T/unshare.err"; then
	echo "SKIP: $TEST_NAME: cannot make a mount namespace (${NS[*]}): $(cat "$T/unshare.err")"
	exit 77
fi

# --- 1. the image ----------------------------------------------------------------
OCI=$T/oci
archive=()
if command -v skopeo >/dev/null; then
	archive=(--docker-archive "$T/image.tar")
else
	skip "skopeo is not installed: no docker-archive was built or checked"
fi
bash "$SRC/init-container/build-image.sh" "${archive[@]}" "$BUILD" "$OCI" >"$T/build1.log" 2>&1 ||
	{ cat "$T/build1.log" >&2; fail "build-image.sh failed"; }
bash "$SRC/init-container/build-image.sh" "$BUILD" "$T/oci-again" >"$T/build2.log" 2>&1 ||
	{ cat "$T/build2.log" >&2; fail "build-image.sh failed the second time"; }
cmp -s "$OCI/index.json" "$T/oci-again/index.json" ||
	fail "two builds of the image differ: $(cat "$OCI/index.json" "$T/oci-again/index.json")"
note "$(grep manifest "$T/build1.log"), built twice with the same digest"
machine=$(uname -m)
"$PYTHON" - "$OCI" "$OP_VERSION" "$machine" "$SRC/init-container/Dockerfile" <<'PY' ||
import json, os, re, sys
layout, version, machine, dockerfile = sys.argv[1:]
def blob(d):
    return json.load(open(os.path.join(layout, "blobs", *d.split(":"))))
index = json.load(open(os.path.join(layout, "index.json")))
assert [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]] == [version], index
manifest = blob(index["manifests"][0]["digest"])
assert len(manifest["layers"]) == 1, manifest["layers"]
config = blob(manifest["config"]["digest"])
arch = {"x86_64": "amd64", "aarch64": "arm64"}[machine]
assert config["architecture"] == arch and config["os"] == "linux", config
c = config["config"]
assert c["User"] == "65532:65532", c
assert c["Entrypoint"] == ["/otelpreload-install"] and c["Cmd"] == ["/otelpreload"], c
assert c["Labels"]["org.opencontainers.image.version"] == version, c
assert not c.get("Env"), c
# The Dockerfile's ARG VERSION follows the project's version.
assert re.search(r"(?m)^ARG VERSION=%s$" % re.escape(version), open(dockerfile).read()), \
    "init-container/Dockerfile: ARG VERSION is not %s" % version
PY
	fail "the image's config is not the expected one"
if [ ${#archive[@]} -gt 0 ]; then
	skopeo inspect --config "docker-archive:$T/image.tar" >"$T/archive-config.json" ||
		fail "skopeo cannot read the docker-archive"
	skopeo inspect --config "oci:$OCI:$OP_VERSION" >"$T/oci-config.json"
	cmp -s "$T/archive-config.json" "$T/oci-config.json" ||
		fail "the docker-archive's config differs from the OCI layout's"
	note "docker-archive for docker load: same config as the OCI layout (skopeo)"
fi

# --- 2. unpacked ----------------------------------------------------------------------
unpack=()
[ "$(id -u)" = 0 ] || unpack=(--rootless)
umoci unpack "${unpack[@]}" --image "$OCI:$OP_VERSION" "$T/bundle" >"$T/unpack.log" 2>&1 ||
	{ cat "$T/unpack.log" >&2; fail "umoci unpack failed"; }
IMGROOT=$T/bundle/rootfs
(cd "$DIST" && find . | sed 's|^\.|./otelpreload-dist|' | sort) >"$T/want-files"
{
	echo .
	echo ./otelpreload-install
} >>"$T/want-files"
(cd "$IMGROOT" && find . | sort) >"$T/image-files"
sort -o "$T/want-files" "$T/want-files"
diff "$T/want-files" "$T/image-files" >&2 || fail "the image's root holds other files than the installer and dist"
readelf -l "$IMGROOT/otelpreload-install" | grep -q 'program interpreter' &&
	fail "the installer is not static"
note "unpacked: /otelpreload-install (static) and /otelpreload-dist ($(cd "$DIST" && find . -type f | wc -l) objects)"

# --- 3. the pod, through the webhook over HTTPS --------------------------------------
# The image as a pod names it: the tag and the digest of the manifest that
# was unpacked, so the init container can only be this build.
digest=$("$PYTHON" -c 'import json, sys
m = json.load(open(sys.argv[1] + "/index.json"))["manifests"]
assert len(m) == 1 and m[0]["annotations"]["org.opencontainers.image.ref.name"] == sys.argv[2], m
print(m[0]["digest"])' "$OCI" "$OP_VERSION") || fail "no manifest digest in $OCI/index.json"
IMAGE=otelpreload-init:$OP_VERSION@$digest
CA=$T/ca
make_ca "$CA"
make_server_cert "$CA" "$T/tls"
start_webhook "$T/tls" --image "$IMAGE"
note "otelpreload-webhook on 127.0.0.1:$WPORT, --image $IMAGE"
start_receiver
start_peer
POD_NAME=checkout-7d9f8b6c5d-x2k4q NODE_NAME=node-a.example NAMESPACE=shop
cat >"$T/pod.json" <<EOF
{
 "apiVersion": "v1", "kind": "Pod",
 "metadata": {
  "generateName": "checkout-7d9f8b6c5d-", "namespace": "$NAMESPACE",
  "labels": {"app": "checkout", "pod-template-hash": "7d9f8b6c5d"},
  "annotations": {
   "otelpreload.dev/inject": "true",
   "otelpreload.dev/container-names": "glibc-app,musl-app",
   "otelpreload.dev/endpoint": "$ENDPOINT"
  },
  "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "checkout-7d9f8b6c5d",
   "uid": "5b0f5c3e-8d2a-4c39-9d55-0a3e7c1f2b64", "controller": true, "blockOwnerDeletion": true}]
 },
 "spec": {
  "containers": [
   {"name": "glibc-app", "image": "debian:bookworm-slim",
    "command": ["/usr/bin/curl", "-q", "-sS", "http://127.0.0.1:$PPORT/echo"],
    "env": [{"name": "DEPLOY_ENV", "value": "staging"},
            {"name": "OTEL_RESOURCE_ATTRIBUTES", "value": "deployment.environment=\$(DEPLOY_ENV)"}]},
   {"name": "musl-app", "image": "alpine:3.20",
    "command": ["/app/http_get", "127.0.0.1", "$PPORT", "/echo"]},
   {"name": "sidecar", "image": "busybox:1.36", "command": ["sleep", "3600"]}
  ],
  "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "securityContext": {}
 }
}
EOF
"$PYTHON" "$POD" admit "$URL/mutate" "$CA/ca.crt" "$T/pod.json" "$T/patched.json" \
	--name "$POD_NAME" --node "$NODE_NAME" >"$T/admit.out" 2>&1 ||
	{ cat "$T/admit.out" "$WLOG" >&2; fail "the webhook did not inject the pod"; }
note "$(cat "$T/admit.out")"
uid=$(sed -n 's/^uid=\([0-9a-f-]*\): .*/\1/p' "$T/admit.out")
[ -n "$uid" ] || fail "pod.py admit printed no uid"
for ((i = 0; i < 50; i++)); do
	grep -q "POST /mutate 200 uid=$uid patched\$" "$WLOG" && break
	sleep 0.1
done
grep -q "POST /mutate 200 uid=$uid patched\$" "$WLOG" ||
	{ cat "$WLOG" >&2; fail "the webhook's log has no line for review $uid as patched"; }
stop_webhook
note "the webhook logged: $(grep -o "POST /mutate 200 uid=$uid patched" "$WLOG"), and stopped on SIGTERM"
check_json /dev/null pod="$T/pod.json" patched="$T/patched.json" image="$IMAGE" <<'PY'
pod, got = json.load(open(args["pod"])), json.load(open(args["patched"]))
init = got["spec"]["initContainers"]
assert [c["name"] for c in init] == ["otelpreload-init"], init
assert init[0]["image"] == args["image"], init[0]["image"]
assert init[0]["command"] == ["/otelpreload-install", "/otelpreload"] and "args" not in init[0], init[0]
assert init[0]["volumeMounts"] == [{"name": "otelpreload", "mountPath": "/otelpreload"}], init[0]
assert got["spec"]["containers"][2] == pod["spec"]["containers"][2], "the sidecar was touched"
PY
note "patched: init container otelpreload-init running /otelpreload-install /otelpreload from $IMAGE; the sidecar untouched"

# --- 4. the init container --------------------------------------------------------------
VOL=$T/volume
mkdir "$VOL"
chmod 0777 "$VOL" # an emptyDir's mode
# init_run WHAT WANT_ARGV [pod.py run options]: runs the init container,
# whose argv must be WANT_ARGV (JSON) and which must print one line saying
# it installed and verified the files.
init_run() {
	local what=$1 want=$2
	shift 2
	rm -f "$T/init.plan"
	timeout 60 "$PYTHON" "$POD" run "$T/patched.json" otelpreload-init "$IMGROOT" --init \
		--image "$OCI" --volume "otelpreload=$VOL" --record "$T/init.plan" "$@" \
		>"$T/init.out" 2>"$T/init.err" ||
		fail "$what: the init container failed: $(cat "$T/init.out" "$T/init.err")"
	"$PYTHON" -c 'import json, sys
got = json.load(open(sys.argv[1]))["argv"]
assert got == json.loads(sys.argv[2]), "ran %s, expected %s" % (got, sys.argv[2])' "$T/init.plan" "$want" ||
		fail "$what: not the expected command"
	grep -q '^otelpreload-install: installed and verified [1-9][0-9]* files, 0 links ([0-9]* bytes) in /otelpreload$' \
		"$T/init.out" || fail "$what: unexpected output: $(cat "$T/init.out")"
	[ -s "$T/init.err" ] && note "$what: $(cat "$T/init.err")"
	diff -r "$DIST" "$VOL" >&2 || fail "$what: the volume is not a copy of dist"
	[ -z "$(find "$VOL" -name '*.tmp-*')" ] || fail "$what: temporary files left in the volume"
	note "$what: $(cat "$T/init.out")"
}
# The patched pod's own command for its init container (checked above).
init_run "the pod's init container" "$("$PYTHON" -c 'import json, sys
c = [c for c in json.load(open(sys.argv[1]))["spec"]["initContainers"] if c["name"] == "otelpreload-init"]
print(json.dumps(c[0]["command"]))' "$T/patched.json")"
if [ "$(id -u)" = 0 ]; then
	bad=$(find "$VOL" -mindepth 1 ! -user 65532)
	[ -z "$bad" ] || fail "files in the volume not written by uid 65532: $bad"
	note "the volume's files belong to 65532, the image's user"
else
	note "not root: the init container ran as uid 0 of a user namespace, not as 65532"
fi
printf broken >"$VOL/glibc/libotelpreload.so" # a restart must replace what it finds
init_run "a restart, with the image's own entrypoint and command" \
	'["/otelpreload-install", "/otelpreload"]' --image-defaults
limit=$("$PYTHON" -c 'import json, sys
v = [v for v in json.load(open(sys.argv[1]))["spec"]["volumes"] if v["name"] == "otelpreload"]
q = v[0]["emptyDir"]["sizeLimit"]
print(int(q[:-2]) * 1024 ** "KMGT".index(q[-2]) * 1024 if q[-1] == "i" else int(q))' "$T/patched.json") ||
	fail "no sizeLimit on the otelpreload volume"
used=$(du -sb "$VOL" | cut -f1)
[ "$used" -lt "$limit" ] || fail "the library tree ($used bytes) exceeds the emptyDir's sizeLimit ($limit bytes)"
note "the library tree takes $used bytes of the emptyDir's $limit"

# --- 5. the applications ----------------------------------------------------------------
# copy_to ROOT FILE...: each file at the same path in ROOT, links followed.
copy_to() {
	local r=$1 f
	shift
	for f in "$@"; do
		mkdir -p "$r$(dirname "$f")"
		cp -L "$f" "$r$f"
	done
}
GROOT=$T/root-glibc
# curl, the libraries ldd lists and the loader; and libpthread.so.0 and
# libdl.so.2, which every glibc image has (libc6) and the library needs for
# its GLIBC_2.17 ceiling, although curl does not.
mapfile -t libs < <(ldd /usr/bin/curl | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) .*/\1/p')
copy_to "$GROOT" /usr/bin/curl "${libs[@]}"
libc_dir=$(dirname "$(ldd /usr/bin/curl | sed -n 's/.*libc\.so\.6 => \(\/[^ ]*\) .*/\1/p')")
copy_to "$GROOT" "$libc_dir/libpthread.so.0" "$libc_dir/libdl.so.2"
note "glibc root: $(cd "$GROOT" && find . -type f | wc -l) files: curl, the ${#libs[@]} objects ldd lists (loader included), libpthread, libdl"

MUSL_OK=1
[ -x "$MUSL_APP" ] || { MUSL_OK=; skip "no musl program ($MUSL_APP: musl-gcc missing at configure time)"; }
for f in libotelpreload.so libotelpreload-exporter.so; do
	readelf -d "$DIST/\$LIB/$f" 2>/dev/null | grep -q 'NEEDED.*\[libc\.so\]' ||
		{ MUSL_OK=; skip "dist/\$LIB/$f is missing or not a musl build: the musl application was not run"; break; }
done
if [ -n "$MUSL_OK" ]; then
	MROOT=$T/root-musl
	ld=$(readelf -l "$MUSL_APP" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
	case $ld in /lib/ld-musl-*.so.1) ;; *) fail "$MUSL_APP: interpreter $ld is not musl's" ;; esac
	copy_to "$MROOT" "$ld"
	mkdir -p "$MROOT/app"
	cp "$MUSL_APP" "$MROOT/app/http_get"
	left=$(cd "$MROOT" && find . -type f | sort | tr '\n' ' ')
	[ "$left" = "./app/http_get .$ld " ] || fail "the musl root holds $left"
	note "musl root: $left"
fi

# A self-contained exporter needs nothing beyond the C library's family.
if readelf -d "$DIST/glibc/libotelpreload-exporter.so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' |
	grep -qv -e '^libc\.so\.6$' -e '^libpthread\.so\.0$' -e '^libdl\.so\.2$' -e '^libm\.so\.6$' \
		-e '^librt\.so\.1$' -e '^ld-linux'; then
	skip "dist's glibc exporter is not self-contained (needs $(readelf -d "$DIST/glibc/libotelpreload-exporter.so" |
		sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')): its export was not checked"
	GLIBC_EXPORT=
else
	GLIBC_EXPORT=1
fi

# app CONTAINER ROOT [--command ARG...]: runs the container of the pod.
app() {
	local c=$1 root=$2
	shift 2
	timeout 60 "$PYTHON" "$POD" run "$T/patched.json" "$c" "$root" --volume "otelpreload=$VOL" "$@" \
		>"$T/$c.out" 2>"$T/$c.err"
	RC=$?
}
# Which build the one LD_PRELOAD value loaded, from the process's own maps.
triplet=$(gcc -dumpmachine | sed 's/^\([^-]*\)-.*/\1-linux-gnu/')
app glibc-app "$GROOT" --command /usr/bin/curl -q -sS file:///proc/self/maps
[ "$RC" = 0 ] || fail "glibc-app: curl could not read its maps: $(cat "$T/glibc-app.err")"
got=$(grep -o '/otelpreload/[^ ]*libotelpreload\.so$' "$T/glibc-app.out" | sort -u)
[ "$got" = "/otelpreload/lib/$triplet/libotelpreload.so" ] || fail "glibc-app loaded '$got'"
note "glibc-app: LD_PRELOAD loaded $got"
if [ -n "$MUSL_OK" ]; then
	app musl-app "$MROOT" --command /app/http_get --maps
	[ "$RC" = 0 ] || fail "musl-app: http_get --maps failed: $(cat "$T/musl-app.err")"
	got=$(sort -u "$T/musl-app.out")
	# shellcheck disable=SC2016 # the literal $LIB is the point
	[ "$got" = '/otelpreload/$LIB/libotelpreload.so' ] || fail "musl-app loaded '$got'"
	note "musl-app: LD_PRELOAD loaded $got"
fi

app glibc-app "$GROOT"
[ "$RC" = 0 ] || fail "glibc-app: curl failed ($RC): $(cat "$T/glibc-app.err")"
[ -s "$T/glibc-app.err" ] && fail "glibc-app: the library wrote to stderr: $(cat "$T/glibc-app.err")"
apps="glibc-app"
if [ -n "$MUSL_OK" ]; then
	app musl-app "$MROOT"
	[ "$RC" = 0 ] || fail "musl-app: http_get failed ($RC): $(cat "$T/musl-app.err")"
	[ -s "$T/musl-app.err" ] && fail "musl-app: the library wrote to stderr: $(cat "$T/musl-app.err")"
	apps="$apps musl-app"
fi
n=0
for c in $apps; do
	grep -q '^traceparent: 00-' "$T/$c.out" || fail "$c: the peer saw no traceparent: $(cat "$T/$c.out")"
	[ "$c" = glibc-app ] && [ -z "$GLIBC_EXPORT" ] && continue
	n=$((n + 1))
done
note "the peer saw a traceparent from: $apps"

wait_spans "$RSPANS" "$n" 10 || fail "$n spans expected, $(count_lines "$RSPANS") arrived"
settle "$RSPANS"
check_json "$RSPANS" support="$SRC/tests/support" pdir="$PDIR" port="$PPORT" apps="$apps" \
	glibc_export="$GLIBC_EXPORT" pod="$POD_NAME" node="$NODE_NAME" ns="$NAMESPACE" <<'PY'
import sys
sys.path.insert(0, args["support"])
from spancheck import *
reqs = peer_log(args["pdir"])
apps = args["apps"].split()
if not args["glibc_export"]:
    apps.remove("glibc-app")
assert len(rows) == len(apps), "%d spans for %s" % (len(rows), apps)
for c in apps:
    spans = [s for s in rows if s["resource"].get("k8s.container.name") == c]
    assert len(spans) == 1, "%s: %d spans" % (c, len(spans))
    s, r = spans[0], spans[0]["resource"]
    want = {"service.name": "checkout", "k8s.namespace.name": args["ns"],
            "k8s.pod.name": args["pod"], "k8s.node.name": args["node"], "k8s.container.name": c}
    if c == "glibc-app":
        want.update({"deployment.environment": "staging", "process.executable.name": "curl"})
    else:
        want["process.executable.name"] = "http_get"
    got = {k: r.get(k) for k in want}
    assert got == want, "%s: resource %s, expected %s" % (c, r, want)
    assert s["kind"] == CLIENT, (c, s["kind"])
    assert s["attributes"].get("url.full") == "http://127.0.0.1:%s/echo" % args["port"], (c, s["attributes"])
    check_status(s, 200)
    ua = "curl/" if c == "glibc-app" else "http_get"
    heads = [q["head"] for q in reqs if ua in "".join(header_values(q["head"], "user-agent"))]
    assert len(heads) == 1, "%s: %d requests at the peer" % (c, len(heads))
    named_by(s, injected(heads[0], "curl" if c == "glibc-app" else "first"))
PY
note "exported: $apps, each span named by the traceparent its request carried, with service.name and the k8s.* attributes"

if [ ${#SKIPPED[@]} -gt 0 ]; then
	for s in "${SKIPPED[@]}"; do
		echo "SKIP: $TEST_NAME: $s"
	done
	exit 77
fi
pass
