#!/bin/bash
# A pod's life with the init-container image, without a cluster (issue 8):
#
#  1. init-container/build-image.sh builds the image twice: same digests;
#     its config is the Dockerfile's (user 65532, entrypoint, command,
#     labels with the version), and skopeo reads back its docker-archive.
#  2. umoci unpacks it: the root holds the static installer and the
#     library tree, nothing else.
#  3. The webhook's mutation (k8s_review) patches a Deployment's pod
#     annotated otelpreload.dev/inject: "true", with an endpoint and two of
#     its three containers named; python3-jsonpatch applies the patch.
#  4. The init container runs as the kubelet would (tests/image/pod.py): the
#     patch's command in a chroot of the unpacked root, read-only, as the
#     image's user 65532, with a shared directory (the emptyDir) at
#     /otelpreload. It must install and verify build/dist there, owned by
#     that user, within the volume's size limit; run again with the image's
#     own entrypoint and command (a restart), it must leave the same tree.
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
POD=$SRC/tests/image/pod.py
REVIEW=$BUILD/tests/k8s/k8s_review
INSTALLER=$BUILD/init-container/otelpreload-install
MUSL_APP=$BUILD/tests/image/http_get-musl
DIST=$BUILD/dist
need "$REVIEW" "$INSTALLER" "$DIST/glibc/libotelpreload.so"

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

# --- 3. the pod, through the webhook's mutation ---------------------------------------
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
"$PYTHON" "$POD" admit "$REVIEW" "$T/pod.json" "$T/patched.json" --name "$POD_NAME" \
	--node "$NODE_NAME" || fail "the pod was not injected"
check_json /dev/null pod="$T/pod.json" patched="$T/patched.json" version="$OP_VERSION" <<'PY'
pod, got = json.load(open(args["pod"])), json.load(open(args["patched"]))
init = got["spec"]["initContainers"]
assert [c["name"] for c in init] == ["otelpreload-init"], init
assert init[0]["image"] == "otelpreload-init:" + args["version"], init[0]["image"]
assert got["spec"]["containers"][2] == pod["spec"]["containers"][2], "the sidecar was touched"
PY
note "patched: init container otelpreload-init:$OP_VERSION; the sidecar untouched"

# --- 4. the init container --------------------------------------------------------------
VOL=$T/volume
mkdir "$VOL"
chmod 0777 "$VOL" # an emptyDir's mode
# init_run WHAT [pod.py run options]: runs the init container, which must
# print one line saying it installed and verified the files.
init_run() {
	local what=$1
	shift
	timeout 60 "$PYTHON" "$POD" run "$T/patched.json" otelpreload-init "$IMGROOT" --init \
		--image "$OCI" --volume "otelpreload=$VOL" "$@" >"$T/init.out" 2>"$T/init.err" ||
		fail "$what: the init container failed: $(cat "$T/init.out" "$T/init.err")"
	grep -q '^otelpreload-install: installed and verified [1-9][0-9]* files, 0 links ([0-9]* bytes) in /otelpreload$' \
		"$T/init.out" || fail "$what: unexpected output: $(cat "$T/init.out")"
	[ -s "$T/init.err" ] && note "$what: $(cat "$T/init.err")"
	diff -r "$DIST" "$VOL" >&2 || fail "$what: the volume is not a copy of dist"
	[ -z "$(find "$VOL" -name '*.tmp-*')" ] || fail "$what: temporary files left in the volume"
	note "$what: $(cat "$T/init.out")"
}
init_run "the pod's init container"
if [ "$(id -u)" = 0 ]; then
	bad=$(find "$VOL" -mindepth 1 ! -user 65532)
	[ -z "$bad" ] || fail "files in the volume not written by uid 65532: $bad"
	note "the volume's files belong to 65532, the image's user"
else
	note "not root: the init container ran as uid 0 of a user namespace, not as 65532"
fi
printf broken >"$VOL/glibc/libotelpreload.so" # a restart must replace what it finds
init_run "a restart, with the image's own entrypoint and command" --image-defaults
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
