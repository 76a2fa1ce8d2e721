#!/bin/bash
# End to end with the shipped library and real programs:
# OTELPRELOAD_PROCESS_SPAN=true records one span per process, exported over
# OTLP/HTTP to a receiver that decodes it with the official decoder.
. "$(dirname "$0")/../support/lib.sh" "$@"
need "$LIB"
start_receiver
export OTEL_EXPORTER_OTLP_ENDPOINT=$ENDPOINT OTELPRELOAD_PROCESS_SPAN=true
export OTEL_EXPORTER_OTLP_HEADERS='x-test-header=hello%20world'

t0=$(date +%s%N)
env LD_PRELOAD="$LIB" OTEL_SERVICE_NAME=svc-ls ls / >"$T/ls.out" 2>"$T/ls.err" &
ls_pid=$!
wait "$ls_pid" || fail "ls failed under the library"
t1=$(date +%s%N)
ls / | cmp -s - "$T/ls.out" || fail "ls printed something else under the library"
[ -s "$T/ls.err" ] && { cat "$T/ls.err" >&2; fail "ls wrote to stderr under the library"; }
# The flush at exit is synchronous: the span is there when ls has ended.
wait_spans "$RSPANS" 1 5 || fail "no span from ls"
check_json "$RSPANS" pid="$ls_pid" t0="$t0" t1="$t1" version="$OP_VERSION" <<'PY'
assert len(rows) == 1, "one span from ls, got %d" % len(rows)
s = rows[0]
r = s["resource"]
assert r["service.name"] == "svc-ls", r
assert r["process.pid"] == int(args["pid"]), (r["process.pid"], args["pid"])
assert r["process.executable.name"] == "ls", r
assert r.get("host.name"), r
assert r.get("telemetry.sdk.name"), r
assert r.get("telemetry.sdk.language"), r
assert r["telemetry.sdk.version"] == args["version"], r
assert s["scope"] == {"name": "otelpreload", "version": args["version"]}, s["scope"]
assert s["kind"] == 1, "INTERNAL"
assert "ls" in s["name"], s["name"]
assert len(s["traceId"]) == 32 and int(s["traceId"], 16) != 0
assert len(s["spanId"]) == 16 and int(s["spanId"], 16) != 0
assert s["parentSpanId"] == ""
start, end = int(s["startTimeUnixNano"]), int(s["endTimeUnixNano"])
assert int(args["t0"]) <= start <= end <= int(args["t1"]), (args, start, end)
PY
check_json "$RREQS" <<'PY'
assert len(rows) == 1, "one export request"
q = rows[0]
assert q["method"] == "POST" and q["path"] == "/v1/traces", q
assert q["contentType"] == "application/x-protobuf", q
assert q["status"] == 200 and q["spans"] == 1, q
assert q["headers"].get("x-test-header") == "hello world", q["headers"]
PY
note "ls: one process span with its resource"

# python3, service.name from OTEL_RESOURCE_ATTRIBUTES, percent-decoded.
env LD_PRELOAD="$LIB" OTEL_RESOURCE_ATTRIBUTES='service.name=py%20svc,deployment.environment=test' \
	"$PYTHON" -c 'print(1)' >"$T/py.out" 2>"$T/py.err" &
py_pid=$!
wait "$py_pid" || fail "python3 failed under the library"
[ "$(cat "$T/py.out")" = 1 ] || fail "python3 printed $(cat "$T/py.out")"
[ -s "$T/py.err" ] && { cat "$T/py.err" >&2; fail "python3 wrote to stderr"; }
wait_spans "$RSPANS" 2 5 || fail "no span from python3"
check_json "$RSPANS" pid="$py_pid" <<'PY'
s = rows[1]
r = s["resource"]
assert r["service.name"] == "py svc", r
assert r["deployment.environment"] == "test", r
assert r["process.pid"] == int(args["pid"]), r
assert r["process.executable.name"].startswith("python3"), r
assert s["kind"] == 1
PY
note "python3: span with service.name from OTEL_RESOURCE_ATTRIBUTES"

# No service name: unknown_service:<executable>; a failing program keeps
# its status and its error message.
env LD_PRELOAD="$LIB" ls /nonexistent-otelpreload 2>"$T/ls2.err"
[ $? = 2 ] || fail "ls of a missing file did not exit 2 under the library"
ls /nonexistent-otelpreload 2>&1 | cmp -s - "$T/ls2.err" || fail "ls's error message changed"
wait_spans "$RSPANS" 3 5 || fail "no span from the failing ls"
check_json "$RSPANS" <<'PY'
r = rows[2]["resource"]
assert r["process.executable.name"] == "ls", r
assert r["service.name"] == "unknown_service:ls", r
PY
note "failing ls: span with service.name unknown_service:ls"

# A pipeline: every process has its own span and pid.
env LD_PRELOAD="$LIB" OTEL_SERVICE_NAME=pipe bash -c 'ls / | cat | wc -l' >/dev/null ||
	fail "pipeline failed"
wait_spans "$RSPANS" 7 5 || fail "expected 4 more spans from the pipeline, have $(count_lines "$RSPANS")"
settle "$RSPANS"
check_json "$RSPANS" <<'PY'
pipe = [s for s in rows if s["resource"]["service.name"] == "pipe"]
assert len(pipe) == 4, "bash, ls, cat, wc: %d spans" % len(pipe)
assert len({s["resource"]["process.pid"] for s in pipe}) == 4
names = sorted(s["resource"]["process.executable.name"] for s in pipe)
assert names == ["bash", "cat", "ls", "wc"], names
PY
note "pipeline: one span per process"

# Debian's /bin/sh (dash) leaves through _exit() after flushing its own
# output, like many programs and every forked child that does not exec:
# its process span must still be exported.
: >"$RSPANS"
env LD_PRELOAD="$LIB" OTEL_SERVICE_NAME=dash sh -c 'exit 4'
[ $? = 4 ] || fail "sh -c 'exit 4' did not exit 4 under the library"
wait_spans "$RSPANS" 1 5 || fail "no process span from sh -c 'exit 4' (it ends with _exit)"
check_json "$RSPANS" <<'PY'
assert len(rows) == 1 and rows[0]["resource"]["service.name"] == "dash", rows
PY
pass
