#!/bin/bash
# W3C Trace Context level 1, checked the way the W3C test suite checks a
# service: tests/support/w3c_harness.py (an independent implementation of
# what that suite verifies) posts to the service a request carrying
# traceparent/tracestate variations and a list of callback URLs, and judges
# the trace headers the callbacks carry. The service is a plain Python
# program with no tracing code (tests/support/w3c_service.py, urllib POSTs
# from a ThreadingHTTPServer handler) run under the library with the
# default OTEL_PROPAGATORS. Then the spans: every sampled callback's
# traceparent names an exported CLIENT span, child of the SERVER span of
# the request that caused it, itself the child of the inbound parent-id
# when the inbound traceparent was valid and sampled, a root otherwise; an
# unsampled context exports nothing.
. "$(dirname "$0")/../support/lib.sh" "$@"
# The checks import tests/support modules: leave no __pycache__ in the tree.
export PYTHONDONTWRITEBYTECODE=1
need "$LIB"
SUPPORT=$SRC/tests/support
start_receiver

spawn_server "the W3C service" "$T/service.port" "$T/service.log" 15 \
	env LD_PRELOAD="$LIB" OTEL_SERVICE_NAME=w3c-service OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" \
	OTEL_BSP_SCHEDULE_DELAY=100 timeout 100 "$PYTHON" -u "$SUPPORT/w3c_service.py" \
	--port-file "$T/service.port"
SERVICE=http://127.0.0.1:$SERVER_PORT/

timeout 90 "$PYTHON" -u "$SUPPORT/w3c_harness.py" --service "$SERVICE" --out "$T/results.jsonl" \
	>"$T/harness.log" 2>&1
hrc=$?
cat "$T/harness.log"
[ -s "$T/service.log" ] && { echo "--- service output:"; cat "$T/service.log"; }

# The spans of every callback that carried a sampled context.
want=$("$PYTHON" - "$T/results.jsonl" <<'PY'
import json, re, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    cbs = [c for c in r["callbacks"] if c]
    sampled = 0
    for c in cbs:
        tp = [v for k, v in c if k.lower() == "traceparent"]
        if len(tp) == 1 and re.match(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]1$", tp[0]):
            sampled += 1
    n += sampled + (1 if sampled else 0)
print(n)
PY
)
wait_spans "$RSPANS" "$want" 20 || note "fewer than $want spans exported"
settle "$RSPANS"

check_json "$RSPANS" results="$T/results.jsonl" <<'PY'
import re
TP = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
results = [json.loads(l) for l in open(args["results"]) if l.strip()]
ours = [s for s in rows if s["resource"].get("service.name") == "w3c-service"]
by_id = {(s["traceId"], s["spanId"]): s for s in ours}
used = set()
problems = []
for r in results:
    inbound = [v.strip(" \t") for k, v in r["sent"] if k.lower() == "traceparent"]
    inbound_sampled = r["mode"] == "continue" and len(inbound) == 1 and int(inbound[0][53:55], 16) & 1
    servers = set()
    for i, cb in enumerate(r["callbacks"]):
        if cb is None:
            continue
        tp = [v for k, v in cb if k.lower() == "traceparent"]
        m = TP.match(tp[0]) if len(tp) == 1 else None
        if not m:
            continue  # the harness reports it
        trace, span, flags = m.group(1), m.group(2), int(m.group(3), 16)
        if not flags & 1:
            leaked = [s for s in ours if s["traceId"] == trace]
            if leaked:
                problems.append("%s: unsampled trace %s exported %d spans" % (r["case"], trace, len(leaked)))
            continue
        c = by_id.get((trace, span))
        if not c or c["kind"] != 3:
            problems.append("%s callback %d: traceparent %s names no exported CLIENT span" % (r["case"], i, tp[0]))
            continue
        used.add((trace, span))
        s = by_id.get((trace, c["parentSpanId"]))
        if not s or s["kind"] != 2:
            problems.append("%s: the CLIENT span %s has no exported SERVER parent (%s)" % (
                r["case"], span, c["parentSpanId"]))
            continue
        used.add((trace, s["spanId"]))
        servers.add(s["spanId"])
        want_parent = r["parent"] if inbound_sampled else ""
        if s["parentSpanId"] != want_parent:
            problems.append("%s: our SERVER span's parent is %r, want %r (mode %s, inbound %r)" % (
                r["case"], s["parentSpanId"], want_parent, r["mode"], inbound))
        if s["attributes"].get("http.request.method") != "POST" or c["attributes"].get("http.request.method") != "POST":
            problems.append("%s: POST spans expected" % r["case"])
    if len(servers) > 1:
        problems.append("%s: callbacks of one request under %d SERVER spans" % (r["case"], len(servers)))
extra = [s for s in ours if (s["traceId"], s["spanId"]) not in used]
if extra:
    problems.append("%d spans exported that no sampled callback accounts for: %s" % (
        len(extra), [(s["kind"], s["traceId"], s["spanId"], s["parentSpanId"]) for s in extra[:5]]))
assert not problems, "\n".join(problems)
print("spans: %d exported, each callback's traceparent names its CLIENT span, "
      "child of the request's SERVER span" % len(ours))
PY
[ "$hrc" = 0 ] || fail "the W3C Trace Context checks failed (see above)"
note "W3C Trace Context level 1: every check of the harness holds for the preloaded service"
pass
