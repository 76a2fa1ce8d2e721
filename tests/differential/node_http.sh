#!/bin/bash
# Differential run of Node's HTTP/1.1 client and server (node_http.mjs:
# keep-alive, chunked bodies both ways, HEAD/204/304, trailers,
# 100-continue, 103, pipelining in one write and 7 bytes at a time,
# HTTP/1.0, a malformed request, Upgrade to a non-HTTP echo protocol, a
# CONNECT tunnel, 24 concurrent requests, a refused connection, a response
# cut short, an unparsable response), once plain and once preloaded with
# the shipped library exporting to the test receiver: the transcripts must
# be the same byte for byte, both runs silent on stderr with status 0.
# The propagation headers the server received are kept apart from the
# transcript: none in the plain run; in the traced run at most one
# traceparent per request, one on every request Node's client made, each
# naming a CLIENT span the process exported, and every SERVER span the
# child of one.
. "$(dirname "$0")/../support/lib.sh" "$@"
need "$LIB"
need_node
start_receiver
SCRIPT=$SRC/tests/differential/node_http.mjs

run() {
	local mode=$1 t0 rc
	shift
	t0=$(now_ms)
	env "$@" timeout 60 node "$SCRIPT" "$T/$mode.prop" >"$T/$mode.out" 2>"$T/$mode.err"
	rc=$?
	note "$mode run: exit $rc in $(($(now_ms) - t0)) ms, $(wc -c <"$T/$mode.out") bytes of transcript"
	[ "$rc" = 0 ] || { cat "$T/$mode.err" >&2; fail "the $mode run failed ($rc)"; }
	[ -s "$T/$mode.err" ] && { cat "$T/$mode.err" >&2; fail "the $mode run wrote to stderr"; }
}
run plain
run traced LD_PRELOAD="$LIB" OTEL_SERVICE_NAME=node-http OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" \
	OTEL_BSP_SCHEDULE_DELAY=50

# The plain transcript is the one intended (the steps ran and did what
# they were written to do), so comparing against it means something.
for want in 'echoed 65588 equal=true' 'client: 200 Connection Established' 'informational 103' \
	'client: continue' 'refused: ECONNREFUSED connect' 'bad response: HPE_INVALID_CONTENT_LENGTH' \
	'complete=false' 'HTTP/1.1 400 Bad Request' 'trailers {"x-checksum"' 'body 2097152 '; do
	grep -qF "$want" "$T/plain.out" || { cat "$T/plain.out" >&2; fail "the plain transcript lacks '$want'"; }
done
cmp -s "$T/plain.out" "$T/traced.out" || {
	diff -u "$T/plain.out" "$T/traced.out" | head -n 80 >&2
	fail "Node's transcript differs under the library"
}
note "transcripts equal: $(wc -l <"$T/plain.out") lines"

wait_spans "$RSPANS" 1 10 || fail "the traced run exported no span"
settle "$RSPANS"
check_json "$RSPANS" plain="$T/plain.prop" traced="$T/traced.prop" <<'PY'
import re
def load(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]
plain, traced = load(args["plain"]), load(args["traced"])
assert len(plain) == len(traced) >= 50, "requests seen: plain %d, traced %d" % (len(plain), len(traced))
assert all(not r["headers"] for r in plain), "propagation headers without the library: %s" % show(plain)
assert {r["resource"].get("service.name") for r in rows} == {"node-http"}, "spans of other services"
assert {r["resource"].get("process.executable.name") for r in rows} == {"node"}, "spans of other programs"
ids = {(s["traceId"], s["spanId"]): s for s in rows}
by_client = {"keep-alive", "expect", "hints", "concurrent", "upgrade", "failures"}
for r in traced:
    tps = r["headers"].get("traceparent", [])
    assert len(tps) <= 1 and set(r["headers"]) <= {"traceparent"}, "request with %s" % show(r)
    if r["step"] in by_client:
        assert len(tps) == 1, "Node's client sent no traceparent: %s" % show(r)
    for tp in tps:
        m = re.match(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-01$", tp)
        assert m, "malformed traceparent %r" % tp
        s = ids.get(m.groups())
        assert s and s["kind"] == 3, "traceparent %s names no exported CLIENT span (%s)" % (tp, r["url"])
servers = [s for s in rows if s["kind"] == 2]
clients = [s for s in rows if s["kind"] == 3]
assert servers and clients, "SERVER and CLIENT spans expected"
orphans = [s for s in servers if ids.get((s["traceId"], s["parentSpanId"]), {}).get("kind") != 3]
assert not orphans, "SERVER spans whose parent is no CLIENT span: %s" % show(orphans[:3])
print("-- %d requests, %d with a traceparent; %d SERVER and %d CLIENT spans" % (
    len(traced), sum(1 for r in traced if r["headers"]), len(servers), len(clients)))
PY
pass
