#!/bin/bash
# fork() without exec while the exporter thread is in the middle of an
# export (tests/process/forker.c, shipped library): the receiver answers
# every export 300 ms late, two threads keep making requests, and the main
# thread forks 16 children, each at a moment the exporter thread sits in
# poll() waiting for the receiver; every fourth child forks a grandchild.
# Every process must exit 0 on its own (a watchdog kills and reports one
# that hangs), every answer must be right, and every process's spans must
# arrive exactly once with its own process.pid. Then the same against a
# receiver that never answers (children still exit, within the export
# timeout), and children forked while the exporter thread is still loading
# the exporter module (their spans must arrive too).
. "$(dirname "$0")/plib.sh" "$@"
need "$LIB" "$PBIN/forker"
start_httpd
start_receiver --script "$(delays 300 300)"
SLOW=$ENDPOINT SLOW_SPANS=$RSPANS
start_receiver --blackhole
HOLE=$ENDPOINT HOLE_REQS=$RREQS
R=3

# forker ENDPOINT OUT [ARGS...]: the forker, preloaded, under a watchdog.
forker() {
	local ep=$1 out=$2 t0
	shift 2
	t0=$(now_ms)
	timeout -s KILL 100 env LD_PRELOAD="$LIB" OTEL_EXPORTER_OTLP_ENDPOINT="$ep" \
		OTEL_BSP_SCHEDULE_DELAY=50 OTEL_BSP_MAX_QUEUE_SIZE=65536 "$PBIN/forker" -p "$HPORT" -r $R "$@" \
		>"$out" 2>"$out.err"
	RC=$? MS=$(elapsed_ms "$t0")
}

# --- mid-export forks ------------------------------------------------------
forker "$SLOW" "$T/b.out" -c 16 -t 2 -g 4 -w 30
[ "$RC" = 0 ] || { cat "$T/b.out" "$T/b.out.err" >&2; fail "forker exited $RC (a child failed or hung, or an answer was wrong)"; }
[ -s "$T/b.out.err" ] && { cat "$T/b.out.err" >&2; fail "forker wrote to stderr"; }
settle "$SLOW_SPANS"
check "$SLOW_SPANS" out="$T/b.out" r=$R see="$SEE_SYSCALLS" <<'PY'
out = open(args["out"]).read()
r = int(args["r"])
kids = records(out, "child")
grand = records(out, "grandchild")
parent = records(out, "parent")[0]
assert len(kids) == 16 and len(grand) == 4, (len(kids), len(grand))
for k in kids + grand:
    assert k["status"] == "0", k
mid = sum(int(k["mid"]) for k in kids)
assert mid >= 8 or args["see"] == "0", "only %d of 16 forks caught the exporter thread mid-export" % mid
got = paths_by_pid(rows)
ppid = int(parent["pid"])
n = int(parent["requests"])
have = got.get(ppid, Counter())
assert sum(have.values()) == n and max(have.values()) == 1, \
    "parent: %d spans for %d requests, most repeated %d" % (sum(have.values()), n, max(have.values()))
assert all(p.startswith("/p/") for p in have), sorted(have)[:5]
for k in kids:
    expect_paths(got, int(k["pid"]), ["/c/%s/%d" % (k["i"], j) for j in range(1, r + 1)], "child %s" % k["i"], errors)
for g in grand:
    expect_paths(got, int(g["pid"]), ["/g/%s/%d" % (g["i"], j) for j in range(1, r + 1)], "grandchild %s" % g["i"], errors)
known = {ppid} | {int(k["pid"]) for k in kids + grand}
assert set(got) <= known, "spans from unknown processes: %s" % (set(got) - known)
print("-- %d of 16 forks mid-export; parent %d requests; slowest child %s ms; %d spans" %
      (mid, n, max(int(k["ms"]) for k in kids), len(rows)))
PY
note "mid-export forks: 16 children, 4 grandchildren, all exit 0, every span once with its own pid (${MS} ms)"

# --- a receiver that never answers --------------------------------------------
# Each process's export at exit waits for it at most OTEL_BSP_EXPORT_TIMEOUT.
OTEL_BSP_EXPORT_TIMEOUT=1000 forker "$HOLE" "$T/h.out" -c 8 -t 1 -g 4 -w 30
[ "$RC" = 0 ] || { cat "$T/h.out" "$T/h.out.err" >&2; fail "forker against a black hole exited $RC"; }
[ -s "$T/h.out.err" ] && { cat "$T/h.out.err" >&2; fail "forker wrote to stderr (black hole)"; }
check "$HOLE_REQS" out="$T/h.out" <<'PY'
out = open(args["out"]).read()
kids = records(out, "child") + records(out, "grandchild")
assert len(kids) == 10 and all(k["status"] == "0" for k in kids), kids
# Every child made spans and tried to export them at exit: one request each at least.
assert len(rows) >= len(kids), "%d export requests reached the black hole from %d children" % (len(rows), len(kids))
print("-- black hole: %d children exit 0, slowest %s ms; %d export requests" %
      (len(kids), max(int(k.get("ms", 0)) for k in kids), len(rows)))
PY
note "black-hole receiver: children and parent exit 0 (${MS} ms in all)"

# --- forks while the exporter module is being loaded -------------------------
# The first export loads libotelpreload-exporter.so and libcurl; children
# forked meanwhile must still export their own spans.
: >"$SLOW_SPANS"
forker "$SLOW" "$T/a.out" -a 12
[ "$RC" = 0 ] || { cat "$T/a.out" "$T/a.out.err" >&2; fail "forker -a exited $RC"; }
settle "$SLOW_SPANS"
soft_check "children forked while the exporter module loads lose their spans" "$SLOW_SPANS" out="$T/a.out" r=$R <<'PY'
out = open(args["out"]).read()
r = int(args["r"])
kids = records(out, "child")
assert len(kids) == 12 and all(k["status"] == "0" for k in kids), kids
got = paths_by_pid(rows)
lost = 0
for k in kids:
    n = len(errors)
    expect_paths(got, int(k["pid"]), ["/a/%s/%d" % (k["i"], j) for j in range(1, r + 1)], "child %s" % k["i"], errors)
    lost += len(errors) > n
print("-- %d of %d children forked during the exporter's start-up lost their spans" % (lost, len(kids)))
PY
finish
