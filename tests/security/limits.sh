#!/bin/bash
# Hard limits: what the engine keeps of a request or response head is
# bounded, whatever the peer sends, and the application's bytes are
# untouched.
#  - A traced server (tests/security/rawpeer.py) reads a 1 MiB header
#    line, a 1 MiB baggage, a 1 MiB tracestate, a 1 MiB x-request-id (a
#    forwarded header), 20,000 baggage, tracestate and x-request-id lines,
#    a 1 MiB request line, a head of 24 MiB that never ends and a 16 MiB
#    line that never ends. It reads exactly what was sent. Memory, against
#    the same program untraced: the heap in use (mallinfo2) once a case's
#    bytes have all been read, before the connection closes, has grown by
#    at most HEAP_SLACK_KB more than untraced, case by case; the peak RSS
#    (ru_maxrss) from the first oversized case to the last by at most
#    RSS_SLACK_KB more with spans made and not exported
#    (OTEL_TRACES_EXPORTER=none), at most RSS_EXPORT_SLACK_KB more when
#    they are also exported over OTLP (the exporter loaded during two
#    warm-up requests). The exported spans have bounded attributes; the
#    heads that never end make none. Last, 1000 and 2000 pipelined requests
#    (2.5 kB each) read before any response: the first keep at most
#    PIPELINE_SLACK_KB (the engine follows up to 1024 waiting exchanges per
#    connection), the second, past that depth, no more than any case.
#  - A traced client reads a response with a 1 MiB header line, one with a
#    1 MiB status line, a 24 MiB head and a 16 MiB line that never end, and
#    sends a 1 MiB header line and 20,000 headers itself: the same checks.
#  - Through a traced relay (tests/support/relay_app.py, a Python
#    http.server calling urllib), oversized propagation and forwarded
#    headers are not passed on: tracestate over 512 bytes, baggage over
#    8192, x-request-id values over 1 KiB, and no more than 16 KiB of
#    forwarded lines in all; the ones exactly at the limits are.
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/support/http_lib.sh"
need "$LIB"
start_receiver
RAW=$SRC/tests/security/rawpeer.py
TRANSCRIPT=$SRC/tests/security/transcript.py
# What the engine may keep of one connection: a 16 KiB line, the head's
# fields (2 KiB target, 512 B user agent...), 8 KiB of baggage, 16 KiB of
# lines to pass on, with room to spare; one oversized line kept whole
# would be 1024 KiB.
HEAP_SLACK_KB=64
# 1024 waiting exchanges (the engine's pipeline depth) of 4 KiB each: a
# 2 kB target and a 500-byte user agent are kept for the span.
PIPELINE_SLACK_KB=4096
# Peak RSS moves by up to a few hundred KiB between runs of the same
# program; the heads that never end are 16 and 24 MiB.
RSS_SLACK_KB=2048
RSS_EXPORT_SLACK_KB=4096
TRACED=(env LD_PRELOAD="$LIB" OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" OTEL_BSP_SCHEDULE_DELAY=100
	OTELPRELOAD_FORWARD_HEADERS=x-request-id)

# run SET MODE WHO: one pass over SET with WHO (server or client) traced
# when MODE is traced; the other end is untraced. The traced side is let
# go on after the warm-up cases only once its two warm-up spans are at
# the receiver.
run() {
	local set=$1 mode=$2 who=$3 dir=$T/$1.$2 senv=(env) cenv=(env) rc
	mkdir -p "$dir"
	local tenv=("${TRACED[@]}" OTEL_SERVICE_NAME="$set")
	[ "$mode" = lean ] && tenv=("${TRACED[@]}" OTEL_TRACES_EXPORTER=none)
	if [ "$mode" != plain ]; then
		[ "$who" = server ] && senv=("${tenv[@]}")
		[ "$who" = client ] && cenv=("${tenv[@]}")
	fi
	spawn_server "rawpeer server ($set, $mode)" "$dir/port" "$dir/server.err" 10 \
		"${senv[@]}" "$PYTHON" "$RAW" server --set "$set" --port-file "$dir/port" --out "$dir/server"
	"${cenv[@]}" "$PYTHON" "$RAW" client --set "$set" --port "$SERVER_PORT" --out "$dir/client" \
		--wait-file "$dir/go" --wait-after 1 2>"$dir/client.err" &
	local cpid=$!
	if [ "$mode" = traced ]; then
		for ((i = 0; i < 200; i++)); do
			[ "$(grep -c "\"service.name\":\"$set\"" "$RSPANS" 2>/dev/null)" -ge 2 ] && break
			sleep 0.1
		done
	fi
	touch "$dir/go"
	wait "$cpid"
	rc=$?
	[ "$rc" = 0 ] || { cat "$dir/client.err" >&2; fail "$set ($mode): the client exited with $rc"; }
	wait "$SERVER_PID"
	rc=$?
	[ "$rc" = 0 ] || { cat "$dir/server.err" >&2; fail "$set ($mode): the server exited with $rc"; }
	for f in client.err server.err; do
		[ -s "$dir/$f" ] && { cat "$dir/$f" >&2; fail "$set ($mode): ${f%.err} wrote to stderr"; }
	done
	return 0
}

# memory SET WHO: WHO's memory traced (lean: spans made, not exported;
# traced: exported too) against untraced, within the bounds above.
memory() {
	"$PYTHON" - "$T/$1" "$2" "$HEAP_SLACK_KB" "$RSS_SLACK_KB" "$RSS_EXPORT_SLACK_KB" \
		"$PIPELINE_SLACK_KB" <<'PY' ||
import json, sys
base, who, heap_slack, rss_slack, export_slack, pipeline_slack = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
def load(mode):
    rows = [json.loads(l) for l in open("%s.%s/%s/rss.jsonl" % (base, mode, who))]
    at = {(r["case"], r["at"]): r for r in rows}
    cases = [r["case"] for r in rows if r["at"] == "start"][2:]
    held = {c: (at[c, "read"]["heap"] - at[c, "start"]["heap"]) // 1024 for c in cases}
    sized = [c for c in cases if not c.startswith("pipelined")]
    growth = at[sized[-1], "end"]["maxrss_kb"] - at[sized[0], "start"]["maxrss_kb"]
    return held, growth
(pheld, pgrowth), (lheld, lgrowth), (tgrowth) = load("plain"), load("lean"), load("traced")[1]
extra = {c: lheld[c] - pheld[c] for c in pheld}
sized = {c: v for c, v in extra.items() if c != "pipelined_1000"}
worst = max(sized, key=sized.get)
name = base.rsplit("/", 1)[1]
print("-- %s: heap held by the lean traced %s once a case is read, beyond untraced: at most %d KiB (%s; bound %d KiB)"
      % (name, who, extra[worst], worst, heap_slack))
print("-- %s: peak RSS growth of the %s: untraced %d KiB, lean %d KiB (bound +%d), exporting %d KiB (bound +%d)"
      % (name, who, pgrowth, lgrowth, rss_slack, tgrowth, export_slack))
assert extra[worst] <= heap_slack, "the traced %s held %d KiB more heap than untraced in %s" % (who, extra[worst], worst)
if "pipelined_1000" in extra:
    print("-- %s: 1000 pipelined requests waiting: %d KiB held (bound %d KiB); 2000: %d KiB"
          % (name, extra["pipelined_1000"], pipeline_slack, extra["pipelined_2000"]))
    assert extra["pipelined_1000"] <= pipeline_slack, "1000 waiting requests held %d KiB" % extra["pipelined_1000"]
assert lgrowth <= pgrowth + rss_slack, "lean peak RSS growth %d KiB, untraced %d KiB" % (lgrowth, pgrowth)
assert tgrowth <= pgrowth + export_slack, "exporting peak RSS growth %d KiB, untraced %d KiB" % (tgrowth, pgrowth)
PY
		fail "$1: the traced $2's memory grew with what it was sent"
}

# --- a traced server reading oversized heads -------------------------------------
"$PYTHON" "$RAW" list --set limits-server >"$T/server-cases.jsonl"
for mode in plain lean traced; do
	run limits-server "$mode" server
	"$PYTHON" "$TRANSCRIPT" exact "$T/server-cases.jsonl" "$T/limits-server.$mode/client" \
		"$T/limits-server.$mode/server" || fail "limits-server ($mode): the server read other bytes"
done
"$PYTHON" "$TRANSCRIPT" same "$T/server-cases.jsonl" "$T/limits-server.traced/server" \
	"$T/limits-server.plain/server" || fail "limits-server: the traced server's transcript differs"
note "limits-server: the traced server read and wrote exactly what it did untraced"
memory limits-server server
settle "$RSPANS"
check_json "$RSPANS" <<'PY'
spans = [s for s in rows if s["resource"]["service.name"] == "limits-server"]
paths = [s["attributes"].get("url.path", "")[:20] for s in spans]
for s in spans:
    assert s["kind"] == 2, s["kind"]
    for k, v in s["attributes"].items():
        assert not isinstance(v, str) or len(v) <= 2048, "%s: %d bytes" % (k, len(v))
want = ["/warm1", "/warm2", "/big-header", "/big-baggage", "/big-tracestate", "/big-forwarded",
        "/many-baggage", "/many-tracestate", "/many-forwarded"]
for w in want:
    assert paths.count(w) == 1, "one span for %s: %r" % (w, paths)
    s = spans[paths.index(w)]
    assert s["attributes"]["http.response.status_code"] == 200, s
long = [s for s in spans if s["attributes"].get("url.path", "").startswith("/ppp")]
assert len(long) == 1 and len(long[0]["attributes"]["url.path"]) <= 2048, "the 1 MiB target's span"
assert not [p for p in paths if p.startswith("/endless")], "a head that never ended made a span"
# 1000 pipelined requests: the one answered ends with its status, the
# others with the connection; past the pipeline depth, none.
q1 = [s for s in spans if s["attributes"].get("url.path", "").startswith("/q1")]
assert len(q1) == 1000, len(q1)
assert sorted(s["attributes"].get("error.type", "") for s in q1) == [""] + ["connection_closed"] * 999
assert not [p for p in paths if p.startswith("/q2")], "a span past the pipeline depth"
assert len(spans) == len(want) + 1 + 1000, paths
ts = spans[paths.index("/big-tracestate")]
assert ts["traceId"] == "0af7651916cd43dd8448eb211c80319c" and ts["parentSpanId"] == "b7ad6b7169203331", ts
PY
note "limits-server: spans with bounded attributes, none for the heads that never end nor past the pipeline depth"

# --- a traced client reading oversized heads -------------------------------------
"$PYTHON" "$RAW" list --set limits-client >"$T/client-cases.jsonl"
for mode in plain lean traced; do
	run limits-client "$mode" client
	how=exact
	[ "$mode" != plain ] && how=inject
	"$PYTHON" "$TRANSCRIPT" "$how" "$T/client-cases.jsonl" "$T/limits-client.$mode/client" \
		"$T/limits-client.$mode/server" >/dev/null || fail "limits-client ($mode): bytes differ"
done
"$PYTHON" "$TRANSCRIPT" same "$T/client-cases.jsonl" "$T/limits-client.traced/client" \
	"$T/limits-client.plain/client" || fail "limits-client: the traced client's transcript differs"
note "limits-client: the traced client sent and read exactly what it did untraced (plus its traceparent lines)"
memory limits-client client
settle "$RSPANS"
check_json "$RSPANS" <<'PY'
spans = [s for s in rows if s["resource"]["service.name"] == "limits-client"]
by = {s["attributes"]["url.full"].rsplit("/", 1)[1]: s for s in spans}
for s in spans:
    assert s["kind"] == 3, s["kind"]
    for k, v in s["attributes"].items():
        assert not isinstance(v, str) or len(v) <= 2048, "%s: %d bytes" % (k, len(v))
for p in ("warm1", "warm2", "c1", "c2", "c5", "c6"):
    assert by[p]["attributes"].get("http.response.status_code") == 200, (p, by.get(p))
# The status line came, the end of the head never did.
for p in ("c3", "c4"):
    assert by[p]["attributes"].get("error.type") == "connection_closed", by[p]
assert len(spans) <= 8, len(spans)
PY
note "limits-client: a span per exchange with bounded attributes; the endless heads end in connection_closed"

# --- oversized propagation and forwarded headers through a traced relay -----------
start_peer
UPSTREAM=$PDIR
spawn_server "the relay" "$T/relay.port" "$T/relay.log" 10 "${TRACED[@]}" OTEL_SERVICE_NAME=relay \
	"$PYTHON" "$SRC/tests/support/relay_app.py" --port-file "$T/relay.port" \
	--upstream "http://127.0.0.1:$PPORT"
"$PYTHON" - "$SERVER_PORT" <<'PY' || fail "requests through the relay failed"
import http.client, sys
tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
ts512 = ",".join("k%02d=%s" % (i, "x" * 60) for i in range(7))
ts512 = ts512 + "y" * (512 - len(ts512))
cases = {
    "/huge": [("traceparent", tp), ("tracestate", "a=" + "t" * 60000), ("baggage", "k=" + "b" * 60000),
              ("x-request-id", "r" * 60000)],
    "/at-limits": [("traceparent", tp), ("tracestate", ts512), ("baggage", "k=" + "b" * 8190),
                   ("x-request-id", "r" * 1024)],
    "/over-limits": [("traceparent", tp), ("tracestate", ts512 + "z"), ("baggage", "k=" + "b" * 8191),
                     ("x-request-id", "r" * 1025)],
    "/many": [("x-request-id", "%02d" % i + "m" * 998) for i in range(90)],
}
for path, headers in cases.items():
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=20)
    c.putrequest("GET", path)
    for k, v in headers:
        c.putheader(k, v)
    c.endheaders()
    r = c.getresponse()
    r.read()
    assert r.status == 200, (path, r.status)
    c.close()
PY
check_json "$UPSTREAM/requests.jsonl" <<'PY'
import re
heads = {r["target"]: r["head"] for r in rows}
def values(head, name):
    return re.findall(r"(?im)^%s: ([^\r\n]*)\r$" % name, head)
h = heads["/huge"]
assert len(h) < 1024, "the relay passed on %d bytes of head: %r" % (len(h), h[:300])
assert values(h, "traceparent") and not values(h, "tracestate") and not values(h, "baggage") \
    and not values(h, "x-request-id"), h
h = heads["/at-limits"]
assert [len(v) for v in values(h, "tracestate")] == [512], h[:300]
assert [len(v) for v in values(h, "baggage")] == [8192], "baggage of 8192 bytes"
assert [len(v) for v in values(h, "x-request-id")] == [1024], "x-request-id of 1 KiB"
h = heads["/over-limits"]
assert values(h, "traceparent") and not values(h, "tracestate") and not values(h, "baggage") \
    and not values(h, "x-request-id"), h[:500]
h = heads["/many"]
ids = values(h, "x-request-id")
assert 0 < len(ids) < 90 and sum(len(v) + 16 for v in ids) <= 16384, \
    "%d x-request-id lines passed on, %d bytes" % (len(ids), sum(len(v) + 16 for v in ids))
print("relay: %d of 90 x-request-id lines passed on" % len(ids))
PY
note "relay: oversized tracestate, baggage and forwarded headers stay behind; those at the limits go on"
pass
