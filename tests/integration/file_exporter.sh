#!/bin/bash
# OTELPRELOAD_FILE: every batch appended to the file as one OTLP/JSON line,
# read back with the official OpenTelemetry JS decoder (support/otlp_file.mjs).
# curl and wget against Python's http.server, all preloaded and sharing the
# file: one trace across the three processes. Eight processes appending at
# once: every line whole and from one process, no span lost or doubled.
# Nothing printed; the file appended to, never truncated, created 0644; a
# relative path still found after the program changes directory and closes
# every descriptor; file and otlp together get the same spans; a path that
# cannot be opened gives one warning and the program runs on.
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/support/http_lib.sh"
need "$LIB" "$TESTLIB" "$SPANNER"
need_node
command -v curl >/dev/null || fail "curl is not installed"
command -v wget >/dev/null || fail "wget is not installed"
SUPPORT=$SRC/tests/support
umask 022

# decode FILE: the spans of FILE, one JSON line each, into $T/spans.jsonl.
decode() {
	node "$SUPPORT/otlp_file.mjs" "$1" >"$T/spans.jsonl" ||
		fail "$(basename "$1") holds a line the official decoder does not read"
}

# wait_decoded FILE N: wait (10 s at most) until FILE holds N spans.
wait_decoded() {
	local i
	for ((i = 0; i < 100; i++)); do
		decode "$1"
		[ "$(count_lines "$T/spans.jsonl")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# quiet NAME: fail if $T/NAME.out or $T/NAME.err has anything in it.
quiet() {
	local f
	for f in "$T/$1.out" "$T/$1.err"; do
		[ -s "$f" ] && { cat "$f" >&2; fail "$1 printed something ($(basename "$f"))"; }
	done
	return 0
}

# --- curl and wget to http.server, three processes, one file -------------
F=$T/trace.jsonl
# What is there already stays: the file is appended to.
echo '{"resourceSpans":[]}' >"$F"
chmod 0600 "$F"
# OTELPRELOAD_FILE alone replaces the default otlp exporter: no endpoint.
ENDPOINT=
start_preloaded_http_server pyserver OTELPRELOAD_FILE="$F"
echo hello >"$T/www/hello.txt"
U=http://127.0.0.1:$HPORT/hello.txt
LD_PRELOAD="$LIB" OTELPRELOAD_FILE="$F" OTEL_SERVICE_NAME=curl-client \
	curl --noproxy '*' -sS "$U?by=curl" >"$T/curl.out" 2>"$T/curl.err" || fail "curl failed under the library"
[ "$(cat "$T/curl.out")" = hello ] || fail "curl got $(cat "$T/curl.out")"
: >"$T/curl.out"
quiet curl
LD_PRELOAD="$LIB" OTELPRELOAD_FILE="$F" OTEL_SERVICE_NAME=wget-client \
	wget --no-proxy -q -O "$T/wget.body" "$U?by=wget" >"$T/wget.out" 2>"$T/wget.err" ||
	fail "wget failed under the library"
[ "$(cat "$T/wget.body")" = hello ] || fail "wget got $(cat "$T/wget.body")"
quiet wget
wait_decoded "$F" 4 || fail "expected 4 spans in $(basename "$F"), have $(count_lines "$T/spans.jsonl")"
[ "$(head -n 1 "$F")" = '{"resourceSpans":[]}' ] || fail "the line that was there before is gone"
[ "$(stat -c %a "$F")" = 600 ] || fail "the mode of an existing file changed to $(stat -c %a "$F")"
check_json "$T/spans.jsonl" port="$HPORT" support="$SUPPORT" <<'PY'
import sys; sys.path.insert(0, args["support"]); from spancheck import *
port = int(args["port"])
assert len(rows) == 4, "2 client and 2 server spans, got %d" % len(rows)
for by in ("curl", "wget"):
    c = [s for s in spans_of(rows, by + "-client")]
    srv = [s for s in spans_of(rows, "pyserver") if s["attributes"].get("url.query") == "by=" + by]
    assert len(c) == 1 and len(srv) == 1, (by, c, srv)
    c, srv = c[0], srv[0]
    assert c["kind"] == CLIENT and c["name"] == "GET", c
    assert c["attributes"]["url.full"] == "http://127.0.0.1:%d/hello.txt?by=%s" % (port, by), c["attributes"]
    assert c["attributes"]["http.response.status_code"] == 200, c["attributes"]
    assert c["parentSpanId"] == "" and c["flags"] == 0x101, (c["parentSpanId"], c["flags"])
    # The server's span is the client's child, across processes and the file.
    assert srv["kind"] == SERVER and srv["attributes"]["url.path"] == "/hello.txt", srv
    assert srv["attributes"]["http.response.status_code"] == 200, srv["attributes"]
    assert (srv["traceId"], srv["parentSpanId"]) == (c["traceId"], c["spanId"]), (srv, c)
    assert srv["flags"] == 0x301, "remote parent: flags %#x" % srv["flags"]
    assert c["resource"]["process.executable.name"] == by, c["resource"]
    assert c["scope"]["name"] == "otelpreload", c["scope"]
    assert int(c["startTimeUnixNano"]) < int(srv["startTimeUnixNano"]), (c, srv)
# A line is one batch of one process.
by_line = {}
for s in rows:
    by_line.setdefault(s["line"], set()).add(s["resource"]["process.pid"])
assert all(len(p) == 1 for p in by_line.values()), by_line
assert min(by_line) == 2, "the spans follow the line that was there"
PY
note "curl -> http.server and wget -> http.server: 4 spans, 2 traces across 3 processes, file appended to"

# A file the library creates is rw-r--r-- (0644 less the umask).
LD_PRELOAD="$TESTLIB" OTELPRELOAD_FILE="$T/new.jsonl" "$SPANNER" -n 3 -N mode >"$T/mode.out" 2>"$T/mode.err" ||
	fail "spanner failed"
quiet mode
[ "$(stat -c %a "$T/new.jsonl")" = 644 ] || fail "created with mode $(stat -c %a "$T/new.jsonl"), not 644"
decode "$T/new.jsonl"
[ "$(count_lines "$T/new.jsonl")" = 1 ] && [ "$(count_lines "$T/spans.jsonl")" = 3 ] ||
	fail "3 spans at exit should be one line of 3 spans"
note "created 0644; one line per batch"

# --- eight processes appending at once -----------------------------------
# Small batches, exported as soon as they fill: about 1200 lines of up to
# 10 spans. The file's lock is held as another writer would hold it while
# the eight start: nothing may be written until it is released, and then
# all eight have batches waiting and write them at the same time.
C=$T/concurrent.jsonl
: >"$C"
flock "$C" -c "touch '$T/locked'; sleep 0.8" &
holder=$!
wait_file_exists "$T/locked" 10 || fail "flock did not take the lock"
pids=()
for i in 1 2 3 4 5 6 7 8; do
	LD_PRELOAD="$TESTLIB" OTELPRELOAD_FILE="$C" OTEL_BSP_MAX_EXPORT_BATCH_SIZE=10 \
		OTEL_BSP_MAX_QUEUE_SIZE=4096 OTEL_BSP_SCHEDULE_DELAY=5 \
		"$SPANNER" -t 2 -n 750 -N "p$i" >"$T/p$i.out" 2>"$T/p$i.err" &
	pids+=($!)
done
sleep 0.5
[ -s "$C" ] && fail "a line was written while another process held the file's lock"
wait "$holder"
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || fail "spanner p$((i + 1)) failed"
	quiet "p$((i + 1))"
done
decode "$C"
check_json "$T/spans.jsonl" <<'PY'
assert len(rows) == 12000, "8 processes x 1500 spans, got %d" % len(rows)
ids = {s["spanId"] for s in rows}
assert len(ids) == 12000, "%d distinct span IDs" % len(ids)
names = {}
for s in rows:
    names[s["name"]] = names.get(s["name"], 0) + 1
assert names == {"p%d-thread" % i: 1500 for i in range(1, 9)}, names
lines = {}
for s in rows:
    lines.setdefault(s["line"], []).append(s)
for n, spans in lines.items():
    assert len({(s["name"], s["resource"]["process.pid"]) for s in spans}) == 1, \
        "line %d mixes processes" % n
    assert len(spans) <= 10, "line %d has %d spans" % (n, len(spans))
order = [lines[n][0]["name"] for n in sorted(lines)]
switches = sum(a != b for a, b in zip(order, order[1:]))
# Written one process after another there would be 7 switches.
assert switches > 7, "the processes did not write at the same time (%d switches)" % switches
print("-- %d lines, %d switches between processes" % (len(lines), switches))
PY
note "8 processes at once, after waiting for the lock: 12000 spans, none lost or doubled, no line mixed"

# --- a relative path, then chdir and every descriptor closed ------------
mkdir -p "$T/run" "$T/elsewhere"
(cd "$T/run" && LD_PRELOAD="$LIB" OTELPRELOAD_FILE=rel.jsonl OTEL_BSP_SCHEDULE_DELAY=100 \
	"$PYTHON" - "$U" "$T/elsewhere" >"$T/py.out" 2>"$T/py.err" <<'PY') || fail "python3 failed under the library"
import os, sys, time, urllib.request
urllib.request.urlopen(sys.argv[1] + "?n=1").read()
time.sleep(0.6)  # the first batch is written (OTEL_BSP_SCHEDULE_DELAY=100)
os.chdir(sys.argv[2])
os.closerange(3, 65536)
urllib.request.urlopen(sys.argv[1] + "?n=2").read()
PY
quiet py
[ -e "$T/elsewhere/rel.jsonl" ] && fail "spans went to the new working directory"
decode "$T/run/rel.jsonl"
check_json "$T/spans.jsonl" <<'PY'
got = sorted((s["attributes"]["url.full"].rsplit("?", 1)[1], s["line"]) for s in rows)
assert got == [("n=1", 1), ("n=2", 2)], got
PY
note "relative path: both batches in the same file after chdir and closerange"

# --- file and otlp together: the same spans -----------------------------
start_receiver
LD_PRELOAD="$TESTLIB" OTELPRELOAD_FILE="$T/both.jsonl" OTEL_TRACES_EXPORTER=otlp \
	OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" OTEL_BSP_MAX_EXPORT_BATCH_SIZE=4 \
	"$SPANNER" -n 10 -k 4 -N both >"$T/both.out" 2>"$T/both.err" || fail "spanner failed"
quiet both
decode "$T/both.jsonl"
"$PYTHON" - "$T/spans.jsonl" "$RSPANS" <<'PY' || fail "the file and the collector got different spans"
import json, sys
def load(path, drop):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    return sorted(({k: v for k, v in r.items() if k not in drop} for r in rows), key=lambda r: r["spanId"])
a = load(sys.argv[1], ("line", "flags"))
b = load(sys.argv[2], ())
assert len(a) == 10 and a == b, (a[:1], b[:1])
PY
[ "$(count_lines "$T/both.jsonl")" = 3 ] || fail "10 spans in batches of 4 are 3 lines, not $(count_lines "$T/both.jsonl")"
# Alone, OTELPRELOAD_FILE sends nothing to a collector even if one is configured.
: >"$RSPANS"
LD_PRELOAD="$TESTLIB" OTELPRELOAD_FILE="$T/alone.jsonl" OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" \
	"$SPANNER" -n 2 >"$T/alone.out" 2>"$T/alone.err" || fail "spanner failed"
quiet alone
decode "$T/alone.jsonl"
[ "$(count_lines "$T/spans.jsonl")" = 2 ] && [ "$(count_lines "$RSPANS")" = 0 ] ||
	fail "OTELPRELOAD_FILE alone: file $(count_lines "$T/spans.jsonl"), collector $(count_lines "$RSPANS")"
note "file,otlp: the same 10 spans field for field; file alone: nothing sent"

# --- paths that cannot be opened: one warning, the program unharmed ------
for bad in "$T/missing/dir/spans.jsonl" "$T/run"; do
	LD_PRELOAD="$TESTLIB" OTELPRELOAD_FILE="$bad" OTEL_BSP_MAX_EXPORT_BATCH_SIZE=5 \
		"$SPANNER" -n 50 -x 3 >"$T/bad.out" 2>"$T/bad.err"
	rc=$?
	[ "$rc" = 3 ] || fail "OTELPRELOAD_FILE=$bad: exit status $rc, not the program's 3"
	[ -s "$T/bad.out" ] && fail "OTELPRELOAD_FILE=$bad: something on stdout"
	[ "$(wc -l <"$T/bad.err")" = 1 ] && grep -q "^otelpreload: .*OTELPRELOAD_FILE=$bad" "$T/bad.err" ||
		{ cat "$T/bad.err" >&2; fail "OTELPRELOAD_FILE=$bad: expected one otelpreload: warning naming it"; }
done
[ -e "$T/missing" ] && fail "a directory was created for the file"
note "unopenable paths: one warning each ($(cat "$T/bad.err")), exit status kept"
pass
