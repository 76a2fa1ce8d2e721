#!/bin/bash
# OTEL_TRACES_EXPORTER=console: one OTLP/JSON object per span per line on
# stderr; console and otlp together; stdout untouched.
. "$(dirname "$0")/../support/lib.sh" "$@"
need "$LIB" "$TESTLIB" "$SPANNER"

LD_PRELOAD="$TESTLIB" OTEL_TRACES_EXPORTER=console OTEL_SERVICE_NAME=console-svc \
	"$SPANNER" -n 3 -k 2 -N cons >"$T/out" 2>"$T/err" || fail "spanner failed"
[ -s "$T/out" ] && fail "the console exporter wrote to stdout"
check_json "$T/err" <<'PY'
assert len(rows) == 3, "3 lines on stderr, one per span: %d" % len(rows)
ids = set()
for s in rows:
    assert isinstance(s, dict)
    assert s["name"] == "cons-main", s
    assert s["kind"] in (2, "SPAN_KIND_SERVER"), s["kind"]
    assert len(s["traceId"]) == 32 and int(s["traceId"], 16) != 0, s["traceId"]
    assert len(s["spanId"]) == 16 and int(s["spanId"], 16) != 0, s["spanId"]
    assert int(s["startTimeUnixNano"]) <= int(s["endTimeUnixNano"])
    attrs = s["attributes"]
    assert {"key": "test.attr", "value": {"stringValue": "value"}} in attrs, attrs
    ids.add(s["spanId"])
assert len(ids) == 3
PY
note "console: 3 JSON lines on stderr"

# console,otlp: both get every span.
start_receiver
LD_PRELOAD="$TESTLIB" OTEL_TRACES_EXPORTER=console,otlp OTEL_EXPORTER_OTLP_ENDPOINT=$ENDPOINT \
	"$SPANNER" -n 4 >"$T/out" 2>"$T/err" || fail "spanner failed"
check_json "$T/err" <<'PY'
assert len(rows) == 4
PY
[ "$(count_lines "$RSPANS")" = 4 ] || fail "console,otlp: receiver got $(count_lines "$RSPANS") spans"
"$PYTHON" - "$T/err" "$RSPANS" <<'PY' || fail "console and otlp saw different spans"
import json, sys
a = sorted(json.loads(l)["spanId"] for l in open(sys.argv[1]) if l.strip())
b = sorted(json.loads(l)["spanId"] for l in open(sys.argv[2]) if l.strip())
assert a == b, (a, b)
PY
# The shipped library's process span on the console, python3.
env LD_PRELOAD="$LIB" OTELPRELOAD_PROCESS_SPAN=true OTEL_TRACES_EXPORTER=console \
	"$PYTHON" -c 'print(1)' >"$T/py.out" 2>"$T/py.err" || fail "python3 failed"
[ "$(cat "$T/py.out")" = 1 ] || fail "python3's stdout changed with the console exporter"
check_json "$T/py.err" <<'PY'
assert len(rows) == 1, "one process span line, got %d" % len(rows)
r = {a["key"]: a["value"] for a in rows[0]["resource"]["attributes"]}
assert r["process.executable.name"]["stringValue"].startswith("python3"), r
PY

# The same with ls: its stdout intact.
# ls closes its stderr in an atexit handler (gnulib close_stdout), before
# the library's exit flush: the span must be printed all the same.
cd "$SRC" || fail "cd"
env LD_PRELOAD="$LIB" OTELPRELOAD_PROCESS_SPAN=true OTEL_TRACES_EXPORTER=console ls >"$T/ls.out" 2>"$T/ls.err" ||
	fail "ls failed"
ls | cmp -s - "$T/ls.out" || fail "ls's stdout changed with the console exporter"
check_json "$T/ls.err" <<'PY'
assert len(rows) == 1, "one process span line, got %d" % len(rows)
assert "ls" in rows[0]["name"], rows[0]["name"]
PY

pass
