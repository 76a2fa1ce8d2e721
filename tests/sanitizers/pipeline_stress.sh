#!/bin/bash
# The span pipeline under concurrent load: pipeline_stress forks children
# before its first span and a burst of them while its worker makes its
# first export (loading the exporter module), then makes spans and
# loopback HTTP exchanges from many threads while it forks more children
# and while its worker exports, then returns from main with threads still
# making spans. Every span made before that point must arrive exactly once
# (a child forked during the exporter's set-up included), the exchanges
# must be answered and carry the injected traceparent, and in a sanitizer
# build (lib.sh's sanitizer part) no process may leave a report. Then the
# same with a small queue and small batches: drops are allowed, duplicates
# and reports are not.
#
# What the sanitizers' runtimes cannot take is left out there:
# - ASan (gcc 12's runtime) does not lock its allocator around fork(): a
#   child forked while another thread allocates (the library's worker
#   starting, say) can hang in its first malloc. Only the children forked
#   while the process has a single thread remain.
# - TSan stops checking a child forked from a threaded process (it cannot
#   know which locks the other threads held), and may abort ("dup thread
#   with used id") when such a child starts threads of its own: those
#   children make their spans on their main thread only, and the burst
#   (unchecked children, each starting a worker) is left out. The children
#   forked before the first span are checked.
. "$(dirname "$0")/../support/lib.sh" "$@"
STRESS=$BUILD/tests/sanitizers/pipeline_stress
need "$TESTLIB" "$STRESS"
start_receiver
export OTEL_EXPORTER_OTLP_ENDPOINT=$ENDPOINT

T_N=8 N=300 EVERY=10 EARLY=2 BURST=100 FORKS=4 FORKS2=2 CHILD_N=50 CHILD_T=2
case ${OP_SANITIZE:-} in
address*) BURST=0 FORKS=0 FORKS2=0 ;;
thread*) BURST=0 CHILD_T=0 ;;
esac
LD_PRELOAD="$TESTLIB" OTEL_BSP_SCHEDULE_DELAY=50 OTEL_BSP_MAX_QUEUE_SIZE=20000 \
	timeout 100 "$STRESS" -t $T_N -n $N -h $EVERY -e $EARLY -b $BURST -f $FORKS -c $CHILD_N \
	-T $CHILD_T -l 2 \
	>"$T/out" 2>"$T/err" || { cat "$T/out" "$T/err" >&2; fail "pipeline_stress failed"; }
[ -s "$T/err" ] && { cat "$T/err" >&2; fail "stderr not empty"; }
exchanges=$((T_N * (N / EVERY)))
grep -qx "exchanges=$exchanges" "$T/out" || { cat "$T/out" >&2; fail "not every exchange was answered"; }
grep -qx "traceparent=$exchanges" "$T/out" || { cat "$T/out" >&2; fail "requests without an injected traceparent"; }
pid=$(sed -n 's/^pid=//p' "$T/out")
children=$(sed -n 's/^child=//p' "$T/out" | paste -sd,)
bursts=$(sed -n 's/^burst=//p' "$T/out" | paste -sd,)
[ "$(sed -n 's/^burst=//p' "$T/out" | wc -l)" = "$BURST" ] || fail "expected $BURST burst children"
settle "$RSPANS"
check_json "$RSPANS" pid="$pid" children="$children" bursts="$bursts" spans=$((T_N * N)) exchanges=$exchanges \
	early=$EARLY early_spans=$((3 * CHILD_N)) forks=$FORKS child_spans=$(((1 + CHILD_T) * CHILD_N)) <<'PY'
from collections import Counter
parent = int(args["pid"])
kids = [int(c) for c in args["children"].split(",")]
assert len(kids) == int(args["early"]) + int(args["forks"]), kids
bursts = [int(c) for c in args["bursts"].split(",") if c]
kept = [s for s in rows if s["name"] != "stress-late"]
ids = Counter(s["spanId"] for s in rows)
assert max(ids.values()) == 1, "span IDs repeat: %s" % ids.most_common(3)
mine = Counter((s["resource"]["process.pid"], s["name"], s["kind"]) for s in kept
               if s["name"].startswith("stress-"))
assert mine[(parent, "stress-span", 1)] == int(args["spans"]), mine
assert mine[(parent, "stress-first", 1)] == 1, mine
# A child forked while the worker initialised the exporter must still
# export its span (and leave at once, not after OTEL_BSP_EXPORT_TIMEOUT).
lost = [b for b in bursts if mine[(b, "stress-burst", 1)] != 1]
assert not lost, "%d of %d burst children exported nothing: %s" % (len(lost), len(bursts), lost[:10])
early, late = kids[:int(args["early"])], kids[int(args["early"]):]
for k in early:
    assert mine[(k, "stress-early", 1)] == int(args["early_spans"]), (k, mine)
for k in late:
    assert mine[(k, "stress-child", 1)] == int(args["child_spans"]), (k, mine)
assert sum(mine.values()) == (int(args["spans"]) + 1 + len(bursts) + len(early) * int(args["early_spans"])
                              + len(late) * int(args["child_spans"])), mine
http = [s for s in kept if not s["name"].startswith("stress-")]
kinds = Counter(s["kind"] for s in http)
assert kinds == {2: int(args["exchanges"]), 3: int(args["exchanges"])}, kinds
assert all(s["resource"]["process.pid"] == parent for s in http)
# Every server span is the child of the client span of the same exchange.
clients = {s["spanId"]: s for s in http if s["kind"] == 3}
for s in http:
    if s["kind"] == 2:
        c = clients.get(s["parentSpanId"])
        assert c and c["traceId"] == s["traceId"], s
PY
late=$(grep -c '"stress-late"' "$RSPANS")
note "$((T_N * N)) spans and $exchanges exchanges from $T_N threads; $EARLY children forked before the first span, $BURST during the first export, $FORKS under load: all spans exported once; $late late spans made during exit"

# A queue of 64 and batches of 16 under the same load: drops, never twice.
: >"$RSPANS"
LD_PRELOAD="$TESTLIB" OTEL_BSP_SCHEDULE_DELAY=20 OTEL_BSP_MAX_QUEUE_SIZE=64 \
	OTEL_BSP_MAX_EXPORT_BATCH_SIZE=16 \
	timeout 100 "$STRESS" -t $T_N -n $N -h $EVERY -e 1 -b 0 -f $FORKS2 -c $CHILD_N -T $CHILD_T -l 2 \
	>"$T/out2" 2>"$T/err2" || { cat "$T/out2" "$T/err2" >&2; fail "pipeline_stress with a small queue failed"; }
[ -s "$T/err2" ] && { cat "$T/err2" >&2; fail "stderr not empty (small queue)"; }
children=$(sed -n 's/^child=//p' "$T/out2" | paste -sd,)
settle "$RSPANS"
check_json "$RSPANS" children="$children" <<'PY'
from collections import Counter
ids = Counter(s["spanId"] for s in rows)
assert rows, "nothing exported"
assert max(ids.values()) == 1, "span IDs repeat: %s" % ids.most_common(3)
pids = Counter(s["resource"]["process.pid"] for s in rows)
silent = [int(c) for c in args["children"].split(",") if c and not pids[int(c)]]
assert not silent, "children that exported nothing: %s" % silent
PY
note "small queue: $(count_lines "$RSPANS") spans exported, none twice"
pass
