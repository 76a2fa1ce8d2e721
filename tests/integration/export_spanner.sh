#!/bin/bash
# The span pipeline end to end with the testing library's spanner: every
# span field as received, both ways of leaving a program, periodic export
# while the program runs, many threads, samplers, the signal-specific
# endpoint and OTEL_SDK_DISABLED.
. "$(dirname "$0")/../support/lib.sh" "$@"
need "$TESTLIB" "$SPANNER"
start_receiver
export OTEL_EXPORTER_OTLP_ENDPOINT=$ENDPOINT

# Ten spans, returning from main. The exit flush delivers them.
t0=$(date +%s%N)
LD_PRELOAD="$TESTLIB" OTEL_SERVICE_NAME=spanner-svc "$SPANNER" -n 10 -k 3 -N ten -p \
	>"$T/ten.out" 2>"$T/ten.err" || fail "spanner failed"
t1=$(date +%s%N)
[ -s "$T/ten.err" ] && { cat "$T/ten.err" >&2; fail "spanner wrote to stderr"; }
pid=$(sed -n 's/^pid=//p' "$T/ten.out")
[ "$(count_lines "$RSPANS")" = 10 ] || fail "expected 10 spans at exit, have $(count_lines "$RSPANS")"
check_json "$RSPANS" pid="$pid" t0="$t0" t1="$t1" version="$OP_VERSION" <<'PY'
assert len(rows) == 10
for s in rows:
    assert s["name"] == "ten-main", s
    assert s["kind"] == 3, s
    assert s["attributes"] == {"test.attr": "value"}, s["attributes"]
    assert s["droppedAttributesCount"] == 0
    assert s["status"] == {"code": 0, "message": ""}, s["status"]
    assert s["parentSpanId"] == ""
    assert len(s["traceId"]) == 32 and int(s["traceId"], 16) != 0
    assert len(s["spanId"]) == 16 and int(s["spanId"], 16) != 0
    assert int(args["t0"]) <= int(s["startTimeUnixNano"]) <= int(s["endTimeUnixNano"]) <= int(args["t1"])
    assert s["scope"] == {"name": "otelpreload", "version": args["version"]}, s["scope"]
    r = s["resource"]
    assert r["service.name"] == "spanner-svc", r
    assert r["process.pid"] == int(args["pid"]), r
    assert r["process.executable.name"] == "spanner", r
    assert r["telemetry.sdk.version"] == args["version"], r
    assert r.get("telemetry.sdk.name") and r.get("telemetry.sdk.language") and r.get("host.name"), r
assert len({s["spanId"] for s in rows}) == 10
assert len({s["traceId"] for s in rows}) == 10, "root spans each start a trace"
PY
note "10 spans, every field as expected"

# Leaving through exit() flushes too; so does a non-zero status.
LD_PRELOAD="$TESTLIB" "$SPANNER" -n 3 -N viaexit -e -x 9
[ $? = 9 ] || fail "spanner -e -x 9 did not exit 9"
check_json "$RSPANS" <<'PY'
assert sum(s["name"] == "viaexit-main" for s in rows) == 3
PY
note "exit(): 3 spans flushed, status 9 kept"

# Periodic export while the program still runs.
LD_PRELOAD="$TESTLIB" OTEL_BSP_SCHEDULE_DELAY=200 "$SPANNER" -n 4 -N periodic -w 4000 &
pid=$!
track "$pid"
base=$(count_lines "$RSPANS")
wait_spans "$RSPANS" $((base + 4)) 3 || fail "spans not exported within the schedule delay"
kill -0 "$pid" 2>/dev/null || fail "the spanner ended before its spans were seen"
wait "$pid" || fail "spanner failed"
note "exported by the schedule while running"

# Four threads at once: 1000 distinct spans, none lost.
: >"$RSPANS"
LD_PRELOAD="$TESTLIB" "$SPANNER" -t 4 -n 250 -N threads || fail "threaded spanner failed"
check_json "$RSPANS" <<'PY'
assert len(rows) == 1000, "1000 spans from 4 threads, got %d" % len(rows)
assert len({s["spanId"] for s in rows}) == 1000
assert all(s["name"] == "threads-thread" for s in rows)
PY
note "4 threads: 1000 distinct spans"

# The signal-specific endpoint is used as is.
: >"$RSPANS"
env -u OTEL_EXPORTER_OTLP_ENDPOINT LD_PRELOAD="$TESTLIB" \
	OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="$ENDPOINT/v1/traces" "$SPANNER" -n 2 -N specific ||
	fail "spanner failed"
[ "$(count_lines "$RSPANS")" = 2 ] || fail "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: $(count_lines "$RSPANS") spans"
check_json "$RREQS" <<'PY'
assert all(q["path"] == "/v1/traces" for q in rows), [q["path"] for q in rows]
PY

# Samplers.
: >"$RSPANS"
LD_PRELOAD="$TESTLIB" OTEL_TRACES_SAMPLER=always_off "$SPANNER" -n 50 || fail "spanner failed"
[ "$(count_lines "$RSPANS")" = 0 ] || fail "always_off exported $(count_lines "$RSPANS") spans"
LD_PRELOAD="$TESTLIB" OTEL_TRACES_SAMPLER=traceidratio OTEL_TRACES_SAMPLER_ARG=0.5 \
	"$SPANNER" -n 2000 -N ratio || fail "spanner failed"
n=$(count_lines "$RSPANS")
# Binomial(2000, 0.5): sd 22; 800..1200 is 9 sd wide.
[ "$n" -ge 800 ] && [ "$n" -le 1200 ] || fail "traceidratio 0.5 exported $n of 2000"
note "samplers: always_off 0, traceidratio 0.5 -> $n/2000"

# OTEL_SDK_DISABLED: nothing at all.
: >"$RSPANS"
LD_PRELOAD="$TESTLIB" OTEL_SDK_DISABLED=true "$SPANNER" -n 20 -p >"$T/disabled.out" ||
	fail "spanner failed with OTEL_SDK_DISABLED"
grep -qx "tasks=1" "$T/disabled.out" || fail "OTEL_SDK_DISABLED started a thread"
[ "$(count_lines "$RSPANS")" = 0 ] || fail "OTEL_SDK_DISABLED exported spans"
note "OTEL_SDK_DISABLED: no span, no thread"

# OTEL_TRACES_EXPORTER=none: no export, no output.
LD_PRELOAD="$TESTLIB" OTEL_TRACES_EXPORTER=none "$SPANNER" -n 20 >"$T/none.out" 2>&1 ||
	fail "spanner failed with OTEL_TRACES_EXPORTER=none"
[ -s "$T/none.out" ] && { cat "$T/none.out" >&2; fail "OTEL_TRACES_EXPORTER=none printed something"; }
[ "$(count_lines "$RSPANS")" = 0 ] || fail "OTEL_TRACES_EXPORTER=none exported spans"
pass
