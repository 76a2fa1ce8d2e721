#!/bin/bash
# fork(): children's spans arrive with the child's process.pid, IDs never
# repeat between parent and children, and the parent's queued spans are
# exported once (by the parent).
. "$(dirname "$0")/../support/lib.sh" "$@"
need "$TESTLIB" "$SPANNER"
start_receiver
export OTEL_EXPORTER_OTLP_ENDPOINT=$ENDPOINT

# Worker already running (schedule delay long) when the children fork.
LD_PRELOAD="$TESTLIB" OTEL_BSP_SCHEDULE_DELAY=60000 "$SPANNER" -n 20 -f 4 -N fork -p \
	>"$T/out" 2>"$T/err" || { cat "$T/err" >&2; fail "forking spanner failed"; }
[ -s "$T/err" ] && { cat "$T/err" >&2; fail "stderr not empty"; }
pid=$(sed -n 's/^pid=//p' "$T/out")
children=$(sed -n 's/^child=//p' "$T/out" | paste -sd,)
settle "$RSPANS"
check_json "$RSPANS" pid="$pid" children="$children" <<'PY'
parent = int(args["pid"])
kids = [int(c) for c in args["children"].split(",")]
assert len(kids) == 4
assert len(rows) == 20 + 4 * 20 + 20, "120 spans expected, got %d" % len(rows)
assert len({s["spanId"] for s in rows}) == len(rows), "span IDs repeat"
assert len({s["traceId"] for s in rows}) == len(rows), "trace IDs repeat"
by_pid = {}
for s in rows:
    by_pid.setdefault(s["resource"]["process.pid"], []).append(s["name"])
assert sorted(by_pid[parent]) == ["fork-after"] * 20 + ["fork-main"] * 20, by_pid.get(parent)
for k in kids:
    assert by_pid.get(k) == ["fork-child"] * 20, (k, by_pid.get(k))
assert set(by_pid) == {parent, *kids}, sorted(by_pid)
PY
note "fork: 120 spans, children with their own pid, no repeated ID"

# Children forked before the parent ever made a span: each starts its own
# worker; the parent still has one thread until its first span.
: >"$RSPANS"
LD_PRELOAD="$TESTLIB" "$SPANNER" -n 0 -f 3 -N early -p >"$T/out2" 2>"$T/err2" ||
	{ cat "$T/err2" >&2; fail "spanner -n 0 -f 3 failed"; }
grep -qx "tasks=1" "$T/out2" || fail "the parent has a thread without ever making a span"
[ "$(count_lines "$RSPANS")" = 0 ] || fail "spans with -n 0?"

LD_PRELOAD="$TESTLIB" "$SPANNER" -n 5 -t 2 -f 3 -N mixed -p >"$T/out3" || fail "spanner failed"
settle "$RSPANS"
check_json "$RSPANS" <<'PY'
assert len(rows) == 2 * 5 + 3 * 5 + 5, len(rows)
assert len({s["spanId"] for s in rows}) == len(rows)
assert len({s["resource"]["process.pid"] for s in rows}) == 4
PY
pass
