#!/bin/bash
# Exec chains: a traced program makes two requests and execs the next, with
# real programs between them: get (tests/process/get.c) -> env (sets
# OTEL_SERVICE_NAME) -> get -> otelpreload run -> get -> bash -c 'exec ...'
# -> get. One pid throughout. Every get must see the library loaded once
# and LD_PRELOAD unchanged (the CLI must not add it again, also when
# LD_PRELOAD names it through a symlink), every answer must be right, and
# every stage's spans must arrive exactly once, with the service name in
# force when they were made; with OTELPRELOAD_PROCESS_SPAN=true every
# program of the chain must have one process span. Last, the library
# preloaded through a symlink to the file itself (as a package's
# libfoo.so -> libfoo.so.1.2 would be) must export, silently.
. "$(dirname "$0")/plib.sh" "$@"
need "$LIB" "$CLI" "$PBIN/get"
start_httpd
start_receiver
G=$PBIN/get
ln -s "$BUILD" "$T/linkdir"

# chain PRELOAD OUT [ENV=VALUE...]: the chain, preloaded with PRELOAD.
chain() {
	local preload=$1 out=$2
	shift 2
	timeout -s KILL 60 env LD_PRELOAD="$preload" OTEL_SERVICE_NAME=chain \
		OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" "$@" "$G" -v -m -p "$HPORT" -P /x/1 -n 2 -- \
		env OTEL_SERVICE_NAME=stage2 "$G" -v -m -p "$HPORT" -P /x/2 -n 2 -- \
		"$CLI" run -- "$G" -v -m -p "$HPORT" -P /x/3 -n 2 -- \
		bash -c 'exec "$0" -v -m -p "$1" -P /x/4 -n 2' "$G" "$HPORT" \
		>"$out" 2>"$out.err"
	RC=$?
}

n=0
for run in "$LIB false" "$LIB true" "$T/linkdir/libotelpreload.so false"; do
	read -r preload pspan <<<"$run"
	n=$((n + 1))
	: >"$RSPANS"
	chain "$preload" "$T/c$n.out" OTELPRELOAD_PROCESS_SPAN=$pspan
	[ "$RC" = 0 ] || { cat "$T/c$n.out" "$T/c$n.out.err" >&2; fail "the chain failed ($RC)"; }
	[ -s "$T/c$n.out.err" ] && { cat "$T/c$n.out.err" >&2; fail "stderr not empty"; }
	check /dev/null out="$T/c$n.out" preload="$preload" <<'PY'
out = open(args["out"]).read()
gets = records(out, "get")
runs = [g for g in gets if "ok" in g]
maps = [g for g in gets if "copies" in g]
assert [g["prefix"] for g in runs] == ["/x/1", "/x/2", "/x/3", "/x/4"], out
assert all(g["ok"] == "2" for g in runs), out
assert len({g["pid"] for g in runs}) == 1, "exec keeps the pid: %s" % out
for i, m in enumerate(maps, 1):
    if m["copies"] != "1" or m["preload"] != args["preload"]:
        errors.append("stage %d: %s copies of the library, LD_PRELOAD=%s" % (i, m["copies"], m["preload"]))
PY
	note "LD_PRELOAD=$preload: one copy of the library and LD_PRELOAD unchanged at every stage"
	[ "$preload" = "$LIB" ] || continue
	# Every stage ended with exec or exit: nothing more will come.
	settle "$RSPANS"
	soft_check "spans made before exec (process spans: $pspan)" \
		"$RSPANS" out="$T/c$n.out" pspan=$pspan <<'PY'
out = open(args["out"]).read()
pid = int(records(out, "get")[0]["pid"])
got = paths_by_pid(rows)
svc = {}
for s in rows:
    if path_of(s):
        svc[path_of(s)] = s["resource"]["service.name"]
assert set(got) <= {pid}, "spans from other processes: %s" % set(got)
# One pid for the whole chain: every stage's spans, each once.
everything = ["/x/%d/%d" % (k, j) for k in range(1, 5) for j in (1, 2)]
n = len(errors)
expect_paths(got, pid, everything, "the chain (get -P /x/1..4)", errors)
have = Counter(p for p in (path_of(s) for s in rows) if p)
lost = [k for k in range(1, 5) if have["/x/%d/1" % k] != 1 or have["/x/%d/2" % k] != 1]
for k in range(1, 5):
    want = ["/x/%d/1" % k, "/x/%d/2" % k]
    for p in want:
        if p in svc and svc[p] != ("chain" if k == 1 else "stage2"):
            errors.append("%s exported as service %s" % (p, svc[p]))
procs = Counter(s["name"] for s in rows if not path_of(s))
if args["pspan"] == "true":
    want = Counter({"get": 4, "env": 1, "otelpreload": 1, "bash": 1})
    if procs != want:
        errors.append("process spans %s, expected %s" % (dict(procs), dict(want)))
elif procs:
    errors.append("process spans without OTELPRELOAD_PROCESS_SPAN: %s" % dict(procs))
print("-- process spans %s: stages whose spans were lost: %s; process spans: %s" %
      (args["pspan"], lost or "none", dict(procs)))
PY
done

# --- LD_PRELOAD naming a symlink to the library file ---------------------------
mkdir "$T/lnk"
ln -s "$LIB" "$T/lnk/libotelpreload.so"
: >"$RSPANS"
timeout -s KILL 60 env LD_PRELOAD="$T/lnk/libotelpreload.so" OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" \
	"$G" -p "$HPORT" -P /lnk -n 2 >"$T/lnk.out" 2>"$T/lnk.err" ||
	fail "get through a symlinked library failed"
if [ -s "$T/lnk.err" ]; then
	cat "$T/lnk.err" >&2
	soft "preloaded through a symlink to the file, the library printed on stderr"
fi
settle "$RSPANS"
soft_check "preloaded through a symlink to the file, no span exported" "$RSPANS" <<'PY'
if sorted(path_of(s) for s in rows) != ["/lnk/1", "/lnk/2"]:
    errors.append("spans %s" % sorted(path_of(s) for s in rows))
PY
finish
