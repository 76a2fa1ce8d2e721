#!/bin/bash
# A full queue drops spans (never blocks the program) and
# OTEL_LOG_LEVEL=debug reports it.
. "$(dirname "$0")/../support/lib.sh" "$@"
need "$TESTLIB" "$SPANNER"
start_receiver
export OTEL_EXPORTER_OTLP_ENDPOINT=$ENDPOINT

LD_PRELOAD="$TESTLIB" OTEL_BSP_MAX_QUEUE_SIZE=100 OTEL_LOG_LEVEL=debug \
	"$SPANNER" -n 5000 -N burst >"$T/out" 2>"$T/err" || { cat "$T/err" >&2; fail "spanner failed"; }
n=$(count_lines "$RSPANS")
note "delivered $n of 5000 with a queue of 100"
[ "$n" -gt 0 ] || fail "nothing delivered"
[ "$n" -lt 5000 ] || fail "all 5000 delivered through a queue of 100: no drop happened"
grep -i 'drop' "$T/err" >&2 || { cat "$T/err" >&2; fail "OTEL_LOG_LEVEL=debug did not report dropped spans"; }
grep -v '^otelpreload: ' "$T/err" && fail "stderr has lines without the otelpreload: prefix"
[ -s "$T/out" ] && fail "spanner printed to stdout"
check_json "$RSPANS" <<'PY'
assert len({s["spanId"] for s in rows}) == len(rows)
assert all(s["name"] == "burst-main" for s in rows)
PY
# The batches respected the queue size (the batch size is clamped to it).
check_json "$RREQS" <<'PY'
assert all(q["spans"] <= 100 for q in rows), [q["spans"] for q in rows]
PY

# Batches: 1200 spans with OTEL_BSP_MAX_EXPORT_BATCH_SIZE=500 arrive in
# requests of at most 500, all of them.
: >"$RSPANS"
: >"$RREQS"
LD_PRELOAD="$TESTLIB" OTEL_BSP_MAX_EXPORT_BATCH_SIZE=500 "$SPANNER" -n 1200 || fail "spanner failed"
[ "$(count_lines "$RSPANS")" = 1200 ] || fail "1200 spans expected, got $(count_lines "$RSPANS")"
check_json "$RREQS" <<'PY'
assert all(0 < q["spans"] <= 500 for q in rows), [q["spans"] for q in rows]
assert sum(q["spans"] for q in rows) == 1200
PY

# The same at the default log level: drops are not the host's business.
: >"$RSPANS"
LD_PRELOAD="$TESTLIB" OTEL_BSP_MAX_QUEUE_SIZE=100 "$SPANNER" -n 5000 >"$T/out2" 2>"$T/err2" ||
	fail "spanner failed"
[ -s "$T/err2" ] && { cat "$T/err2" >&2; fail "drops were reported at the default log level"; }
pass
