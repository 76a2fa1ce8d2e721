#!/bin/bash
# The root span of `otelpreload run` and its private channel: the command
# gets TRACEPARENT=00-<trace>-<root span>-01 (a child of a valid inherited
# TRACEPARENT, whose TRACESTATE is passed on; a new trace otherwise, and a
# stray TRACESTATE dropped); the root span carries the command's exit code
# or signal, with status ERROR when it failed; the exit status is the
# command's (the signal raised again); stdout is the command's alone; the
# channel is a 0700 directory under TMPDIR, gone afterwards; a command that
# cannot be run draws nothing; --file and OTLP get the root span through
# the configured exporter; a run inside a run is one trace and draws once.
. "$(dirname "$0")/../support/lib.sh" "$@"
need "$CLI" "$LIB"
export LC_ALL=C.UTF-8 COLUMNS=100
mkdir "$T/tmp"
export TMPDIR=$T/tmp

# root_json FILE: the root span of the waterfall JSON, as "trace span parent status".
root_of() {
	"$PYTHON" - "$1" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
r = j["traces"][0]["spans"][0]
print(j["traces"][0]["trace_id"], r["span_id"], r["parent_span_id"] or "-", r["status"])
PY
}

# The command's environment: TRACEPARENT names the root span.
out=$("$CLI" run --no-waterfall --waterfall-json "$T/a.json" -- printenv TRACEPARENT) ||
	fail "run printenv failed"
read -r trace span parent status <<<"$(root_of "$T/a.json")"
[ "$out" = "00-$trace-$span-01" ] || fail "TRACEPARENT in the command: '$out', root span $trace $span"
[ "$parent" = - ] && [ "$status" = UNSET ] || fail "root span: parent $parent, status $status"
note "the command gets TRACEPARENT=$out"

# An inherited TRACEPARENT: the root span is its child; TRACESTATE goes on.
in_tp=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
out=$(TRACEPARENT=$in_tp TRACESTATE=vendor=x "$CLI" run --no-waterfall \
	--waterfall-json "$T/b.json" -- sh -c 'printf "%s|%s" "$TRACEPARENT" "$TRACESTATE"') ||
	fail "run with TRACEPARENT failed"
read -r trace span parent status <<<"$(root_of "$T/b.json")"
[ "$trace" = 0af7651916cd43dd8448eb211c80319c ] && [ "$parent" = b7ad6b7169203331 ] ||
	fail "inherited TRACEPARENT: root span in trace $trace under $parent"
[ "$out" = "00-$trace-$span-01|vendor=x" ] || fail "TRACEPARENT|TRACESTATE in the command: '$out'"
# A bad one starts a new trace, and its TRACESTATE is dropped.
out=$(TRACEPARENT=00-zz-bad TRACESTATE=vendor=x "$CLI" run --no-waterfall \
	--waterfall-json "$T/c.json" -- sh -c 'printf "%s|%s" "$TRACEPARENT" "${TRACESTATE-unset}"') ||
	fail "run with a bad TRACEPARENT failed"
read -r trace span parent status <<<"$(root_of "$T/c.json")"
[ "$out" = "00-$trace-$span-01|unset" ] || fail "after a bad TRACEPARENT: '$out'"
note "inherited TRACEPARENT and TRACESTATE honoured, a bad one replaced"

# Exit statuses and signals, on the root span and as our own.
"$CLI" run --no-waterfall --waterfall-json "$T/d.json" -- sh -c 'exit 7'
[ $? = 7 ] || fail "exit 7 not passed through"
bash -c '"$0" run --no-waterfall --waterfall-json "$1" -- sh -c "kill -TERM \$\$"' "$CLI" "$T/e.json"
rc=$?
[ $rc = 143 ] || fail "a command killed by SIGTERM: exit $rc, expected 143 (the signal)"
"$PYTHON" - "$T/d.json" "$T/e.json" <<'PY' || fail "root span of a failed command"
import json, sys
for path, code, etype, msg in ((sys.argv[1], 7, "7", "exit status 7"),
                               (sys.argv[2], 143, "SIGTERM", "killed by SIGTERM")):
    j = json.load(open(path))
    r = j["traces"][0]["spans"][0]
    a = r["attributes"]
    assert r["name"] == "sh" and r["kind"] == "INTERNAL", r
    assert r["status"] == "ERROR" and r["status_message"] == msg, r
    assert a["process.exit.code"] == code and a["error.type"] == etype, a
    assert a["process.executable.name"] == "sh" and a["process.pid"] > 0, a
    assert "process.command_line" not in a, a
PY
OTELPRELOAD_PROCESS_COMMAND_LINE=true "$CLI" run --no-waterfall --waterfall-json "$T/f.json" \
	-- sh -c 'exit 0' || fail "run sh -c 'exit 0' failed"
grep -q '"process.command_line":"sh -c exit 0"' "$T/f.json" ||
	fail "OTELPRELOAD_PROCESS_COMMAND_LINE=true: no process.command_line"
note "exit 7 and SIGTERM on the root span and in our exit status"

# Ctrl-C on a terminal: the command is interrupted, the waterfall (in
# colour: stderr is the terminal) shows it, and run dies of SIGINT too.
timeout 30 "$PYTHON" - "$CLI" <<'PY' || fail "Ctrl-C: not drawn, or run did not die of SIGINT"
import os, pty, signal, sys, time
pid, m = pty.fork()
if pid == 0:
    os.environ.pop("NO_COLOR", None)
    os.execv(sys.argv[1], ["otelpreload", "run", "--", "sleep", "20"])
time.sleep(1)
os.write(m, b"\x03")
out = b""
while True:
    try:
        c = os.read(m, 4096)
    except OSError:
        break
    if not c:
        break
    out += c
_, st = os.waitpid(pid, 0)
out = out.decode("utf-8", "replace")
assert os.WIFSIGNALED(st) and os.WTERMSIG(st) == signal.SIGINT, st
assert "\x1b[" in out and "killed by" not in out, out
assert "1 span, 1 trace, 0 processes, \x1b[1;31m1 error" in out, out
PY
note "Ctrl-C: the waterfall drawn in colour, then SIGINT"

# stdout is the command's; the waterfall is on stderr; the channel is
# private and removed.
out=$("$CLI" run -- sh -c 'printf "%s|%s|" "$OTEL_TRACES_EXPORTER" "$OTELPRELOAD_FILE"
	stat -c %a "$(dirname "$OTELPRELOAD_FILE")"' 2>"$T/err") || fail "run failed"
case $out in
"none|$T/tmp/otelpreload-run."*"/spans.jsonl|700") ;;
*) fail "the command's OTEL_TRACES_EXPORTER|OTELPRELOAD_FILE|mode: '$out'" ;;
esac
grep -q '^span .*duration |0' "$T/err" || { cat "$T/err" >&2; fail "no waterfall on stderr"; }
# sh, dirname and stat, each with its process span, under the root span.
[ "$(tail -1 "$T/err")" = "4 spans, 1 trace, 3 processes, 0 errors" ] ||
	{ cat "$T/err" >&2; fail "summary: $(tail -1 "$T/err")"; }
[ -z "$(ls -A "$T/tmp")" ] || fail "left in TMPDIR: $(ls -A "$T/tmp")"
note "channel: $out, removed afterwards"

# A command that cannot be run: the shell's status, no waterfall, nothing left.
"$CLI" run -- /nonexistent/program 2>"$T/err"
rc=$?
[ $rc = 127 ] || fail "a missing program: exit $rc, expected 127"
[ "$(cat "$T/err")" = "otelpreload: cannot run /nonexistent/program: No such file or directory" ] ||
	{ cat "$T/err" >&2; fail "a missing program: unexpected stderr"; }
"$CLI" run -- "$T" 2>/dev/null
[ $? = 126 ] || fail "a directory as the command: expected 126"
[ -z "$(ls -A "$T/tmp")" ] || fail "left in TMPDIR: $(ls -A "$T/tmp")"

# --file: the root span is appended to the file too, nothing on stderr;
# with --waterfall, only what this run appended is drawn.
echo '{"resourceSpans":[{"resource":{"attributes":[]},"scopeSpans":[{"spans":[{"traceId":"11111111111111111111111111111111","spanId":"1111111111111111","name":"old","kind":1,"startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}' >"$T/spans.jsonl"
"$CLI" run --file "$T/spans.jsonl" -- sh -c 'exit 0' 2>"$T/err" || fail "run --file failed"
[ -s "$T/err" ] && { cat "$T/err" >&2; fail "run --file wrote to stderr"; }
"$CLI" run --file "$T/spans.jsonl" --waterfall -- sh -c 'exit 0' 2>"$T/err" || fail "run --file --waterfall failed"
[ "$(tail -1 "$T/err")" = "2 spans, 1 trace, 1 process, 0 errors" ] ||
	{ cat "$T/err" >&2; fail "--file --waterfall: drew more than this run"; }
"$CLI" waterfall --json "$T/g.json" "$T/spans.jsonl" >/dev/null || fail "waterfall of --file failed"
"$PYTHON" - "$T/g.json" <<'PY' || fail "--file: root spans missing"
import json, sys
j = json.load(open(sys.argv[1]))
roots = [t["spans"][0] for t in j["traces"]]
assert [r["name"] for r in roots] == ["old", "sh", "sh"], [r["name"] for r in roots]
for r in roots[1:]:
    assert r["service"] == "unknown_service:otelpreload", r
    assert r["children"] and r["children"][0]["parent_span_id"] == r["span_id"], r
PY
note "--file: root spans appended; --waterfall draws this run's lines only"

# OTLP: the root span goes to the collector through the exporter module.
start_receiver
"$CLI" run --endpoint "$ENDPOINT" --service-name rooted -- sh -c 'exit 3' 2>"$T/err"
[ $? = 3 ] || fail "run --endpoint: exit status not 3"
[ -s "$T/err" ] && { cat "$T/err" >&2; fail "run --endpoint wrote to stderr"; }
wait_spans "$RSPANS" 2 5 || fail "the collector did not get two spans"
check_json "$RSPANS" <<'PY'
root = [s for s in rows if s["resource"].get("process.executable.name") == "otelpreload"]
assert len(root) == 1, "one root span from the CLI"
r = root[0]
assert r["name"] == "sh" and r["resource"]["service.name"] == "rooted", r
assert not r["parentSpanId"], r
others = [s for s in rows if s is not r]
assert all(s["traceId"] == r["traceId"] for s in others), "one trace"
assert any(s["parentSpanId"] == r["spanId"] for s in others), "sh under the root span"
PY
note "OTLP: the root span exported with the command's spans, one trace"

# A run inside a run: the inner one execs (the tree is traced already),
# one trace, one waterfall.
"$CLI" run --waterfall-json "$T/h.json" -- sh -c '"$0" run -- sh -c "exit 0"' "$CLI" 2>"$T/err" ||
	fail "nested run failed"
[ "$(grep -c '^span ' "$T/err")" = 1 ] || { cat "$T/err" >&2; fail "nested run: not one waterfall"; }
"$PYTHON" - "$T/h.json" <<'PY' || fail "nested run: not one trace"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["summary"]["traces"] == 1, j["summary"]
PY
note "nested run: one trace, one waterfall"
pass
