#!/bin/bash
# Every OTEL_PROPAGATORS format against the official OpenTelemetry JS
# propagators (tests/support/js_propagators.mjs: W3CTraceContextPropagator
# and W3CBaggagePropagator from @opentelemetry/core, B3Propagator in single
# and multi modes, JaegerPropagator), in both directions. Node is never
# preloaded.
#   (a) our injection: curl under the library, OTEL_PROPAGATORS=<format>,
#       calls a Node server that extracts with the JS propagators: the JS
#       side finds our exported CLIENT span's trace and span id, sampled or
#       not, in the exact encoding of the format; `none` injects nothing.
#   (b) our extraction: a Node client injects a fresh random context with
#       the JS propagator (sampled, unsampled, 64- and 128-bit trace ids,
#       B3 debug) into a request to python3 -m http.server under the
#       library: our SERVER span continues it (64-bit ids padded), an
#       unsampled one exports nothing. Plus the encodings the JS side never
#       writes (b3 with a parent id, bare b3 flags, x-b3-sampled true/false,
#       percent-encoded uber-trace-id, Jaeger debug) and which format wins
#       when several are present.
#   (c) both at once: Node client -> a plain Python relay under the library
#       (tests/support/relay_app.py) -> Node server: the context, the B3
#       debug flag, tracestate, W3C baggage (within and over its limits) and
#       Jaeger uberctx-* baggage reach the far side as the JS propagators
#       read them, naming our CLIENT span, child of our SERVER span.
. "$(dirname "$0")/../support/lib.sh" "$@"
# The checks import tests/support modules: leave no __pycache__ in the tree.
export PYTHONDONTWRITEBYTECODE=1
. "$SRC/tests/support/http_lib.sh"
need "$LIB"
need_node
command -v curl >/dev/null || fail "curl is not installed"
for m in core propagator-b3 propagator-jaeger sdk-trace-base; do
	[ -d "$SRC/tests/node_modules/@opentelemetry/$m" ] ||
		fail "tests/node_modules/@opentelemetry/$m is missing: run 'npm ci' in tests/"
done
JSP=$SRC/tests/support/js_propagators.mjs
RELAY=$SRC/tests/support/relay_app.py
SUPPORT=$SRC/tests/support

start_receiver
OTEL_ENV=(OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" OTEL_BSP_SCHEDULE_DELAY=100)

spawn_server "the Node propagator server" "$T/js.port" "$T/js.log" 15 \
	node "$JSP" server --port-file "$T/js.port" --out "$T/js.jsonl" --lifetime 110
JURL=http://127.0.0.1:$SERVER_PORT

# hex N: N random bytes as 2N lower-case hex digits.
hex() {
	od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

# jsclient ID URL ARGS...: the Node client, its JSON line in $T/cl.ID.json.
jsclient() {
	local id=$1 url=$2
	shift 2
	timeout 30 node "$JSP" client "$url" "$@" >"$T/cl.$id.json" 2>"$T/cl.$id.err" ||
		{ cat "$T/cl.$id.err" >&2; fail "$id: the Node client failed ($*)"; }
	[ -s "$T/cl.$id.err" ] && { cat "$T/cl.$id.err" >&2; fail "$id: the Node client wrote to stderr"; }
	grep -q '"status":200' "$T/cl.$id.json" || { cat "$T/cl.$id.json" >&2; fail "$id: not answered 200"; }
}

# rawget ID URL CURL_ARGS...: curl, not preloaded, sending crafted headers.
rawget() {
	local id=$1 url=$2 code
	shift 2
	code=$(curl --noproxy '*' -sS --max-time 20 -o "$T/raw.$id.out" -w '%{http_code}' "$@" "$url") ||
		fail "$id: curl failed"
	[ "$code" = 200 ] || fail "$id: curl got $code: $(head -c 300 "$T/raw.$id.out")"
}

# start_relay NAME [ENV=VALUE...]: the Python relay under the library,
# calling the Node server; sets RELAYPORT.
start_relay() {
	local name=$1
	shift
	spawn_server "the relay $name" "$T/$name.port" "$T/$name.log" 15 \
		env LD_PRELOAD="$LIB" OTEL_SERVICE_NAME="$name" "${OTEL_ENV[@]}" "$@" \
		timeout 100 "$PYTHON" -u "$RELAY" --port-file "$T/$name.port" --upstream "$JURL"
	RELAYPORT=$SERVER_PORT
}

# --- (a) our injection: curl under the library -> JS extraction ------------
FORMATS="tracecontext b3 b3multi jaeger"
acurl() {
	local svc=$1 path=$2 out
	shift 2
	out=$(env "${OTEL_ENV[@]}" OTEL_SERVICE_NAME="$svc" LD_PRELOAD="$LIB" "$@" \
		curl --noproxy '*' -sS --max-time 20 "$JURL$path" 2>"$T/curl.$svc.err")
	[ "$out" = ok ] || { cat "$T/curl.$svc.err" >&2; fail "$svc: curl under the library got '$out'"; }
	[ -s "$T/curl.$svc.err" ] && { cat "$T/curl.$svc.err" >&2; fail "$svc: curl wrote to stderr"; }
}
for f in $FORMATS; do
	acurl "curl-$f" "/a/$f/on" OTEL_PROPAGATORS="$f"
	acurl "curl-$f-off" "/a/$f/off" OTEL_PROPAGATORS="$f" OTEL_TRACES_SAMPLER=always_off
done
acurl curl-all /a/all/on OTEL_PROPAGATORS=tracecontext,baggage,b3,b3multi,jaeger
acurl curl-none /a/none/on OTEL_PROPAGATORS=none

# --- (b) our extraction: JS injection -> python3 http.server under the library
mkdir -p "$T/www"
printf 'hello\n' >"$T/www/hello.txt"
declare -A PY
for f in $FORMATS; do
	start_preloaded_http_server "py-$f" OTEL_PROPAGATORS="$f"
	PY[$f]=$HPORT
done
start_preloaded_http_server py-tc-b3 OTEL_PROPAGATORS=tracecontext,b3
PY[tc-b3]=$HPORT
start_preloaded_http_server py-b3-tc OTEL_PROPAGATORS=b3,tracecontext
PY[b3-tc]=$HPORT

# bcase ID SERVER CLIENT_ARGS...
bcase() {
	local id=$1 srv=$2
	shift 2
	jsclient "$id" "http://127.0.0.1:${PY[$srv]}/hello.txt?case=$id" "$@"
}
bcase b-tc-on tracecontext --format tracecontext
bcase b-tc-off tracecontext --format tracecontext --unsampled
bcase b-b3-on b3 --format b3
bcase b-b3-64 b3 --format b3 --bits 64
bcase b-b3-off b3 --format b3 --unsampled
bcase b-b3-debug b3 --format b3 --debug
bcase b-b3m-on b3multi --format b3multi
bcase b-b3m-64 b3multi --format b3multi --bits 64
bcase b-b3m-off b3multi --format b3multi --unsampled --bits 64
bcase b-b3m-debug b3multi --format b3multi --debug
bcase b-jg-on jaeger --format jaeger
bcase b-jg-64 jaeger --format jaeger --bits 64
bcase b-jg-off jaeger --format jaeger --unsampled
# OpenTelemetry's B3 propagator extracts both encodings, whichever it injects.
bcase b-b3m-into-b3 b3 --format b3multi
# A format that is not listed is not extracted.
bcase b-tc-into-b3 b3 --format tracecontext

# Encodings the JS propagators never write: crafted with curl. The ids of
# each case are written to $T/ids.ID (trace, span).
rcase() {
	local id=$1 srv=$2
	shift 2
	rawget "$id" "http://127.0.0.1:${PY[$srv]}/hello.txt?case=$id" "$@"
}
ids() {
	printf '%s %s\n' "$2" "$3" >"$T/ids.$1"
}
TR=$(hex 16) SP=$(hex 8) PA=$(hex 8)
ids r-b3-parent "$TR" "$SP"
rcase r-b3-parent b3 -H "b3: $TR-$SP-1-$PA"
TR=$(hex 16) SP=$(hex 8)
ids r-b3-nostate "$TR" "$SP"
rcase r-b3-nostate b3 -H "b3: $TR-$SP"
rcase r-b3-bare-1 b3 -H "b3: 1"
rcase r-b3-bare-d b3 -H "b3: d"
rcase r-b3-bare-0 b3 -H "b3: 0"
TR=$(hex 16) SP=$(hex 8)
ids r-b3m-true "$TR" "$SP"
rcase r-b3m-true b3multi -H "X-B3-TraceId: $TR" -H "X-B3-SpanId: $SP" -H "X-B3-Sampled: true"
TR=$(hex 16) SP=$(hex 8)
ids r-b3m-false "$TR" "$SP"
rcase r-b3m-false b3multi -H "X-B3-TraceId: $TR" -H "X-B3-SpanId: $SP" -H "X-B3-Sampled: false"
TR=$(hex 16) SP=$(hex 8)
ids r-jg-pct "$TR" "$SP"
rcase r-jg-pct jaeger -H "uber-trace-id: $TR%3A$SP%3A0%3A1"
TR=$(hex 8) SP=$(hex 8) PA=$(hex 8)
ids r-jg-parent "$TR" "$SP"
rcase r-jg-parent jaeger -H "Uber-Trace-Id: $TR:$SP:$PA:1"
TR=$(hex 16) SP=$(hex 8)
ids r-jg-debug "$TR" "$SP"
rcase r-jg-debug jaeger -H "uber-trace-id: $TR:$SP:0:3"
# Several formats at once: the later one in OTEL_PROPAGATORS wins.
TA=$(hex 16) SA=$(hex 8) TB=$(hex 16) SB=$(hex 8)
ids r-prec-tc-b3 "$TB" "$SB"
rcase r-prec-tc-b3 tc-b3 -H "traceparent: 00-$TA-$SA-01" -H "b3: $TB-$SB-1"
ids r-prec-b3-tc "$TA" "$SA"
rcase r-prec-b3-tc b3-tc -H "traceparent: 00-$TA-$SA-01" -H "b3: $TB-$SB-1"
TA=$(hex 16) SA=$(hex 8)
ids r-prec-tc-only "$TA" "$SA"
rcase r-prec-tc-only tc-b3 -H "traceparent: 00-$TA-$SA-01"

# --- (c) Node -> Python relay under the library -> Node --------------------
declare -A RL
start_relay relay-tc # default OTEL_PROPAGATORS: tracecontext,baggage
RL[tc]=$RELAYPORT
for f in b3 b3multi jaeger; do
	start_relay "relay-$f" OTEL_PROPAGATORS="$f"
	RL[$f]=$RELAYPORT
done
ccase() {
	local id=$1 relay=$2
	shift 2
	jsclient "$id" "http://127.0.0.1:${RL[$relay]}/c/$id?case=$id" "$@"
}
craw() {
	local id=$1 relay=$2
	shift 2
	rawget "$id" "http://127.0.0.1:${RL[$relay]}/c/$id?case=$id" "$@"
}
ccase c-tc-ts tc --format tracecontext --tracestate congo=t61rcWkgMzE,rojo=00f067aa0ba902b7
ccase c-tc-off tc --format tracecontext --unsampled
ccase c-bag tc --format baggage --baggage k1=v1,k2=v2
craw c-bag-rich tc -H 'baggage: k1=v1;p=1,k2=hello%20world'
# W3C Baggage limits: 8192 bytes, 180 members; over them, nothing is forwarded.
"$PYTHON" - "$T" <<'PY'
import sys
t = sys.argv[1]
def sized(n):
    members, i, left = [], 0, n
    while left > 0:
        name = "m%d=" % i
        take = min(1000, left - len(name) - (1 if members else 0))
        members.append(name + "x" * take)
        left -= len(name) + take + (1 if len(members) > 1 else 0)
        i += 1
    v = ",".join(members)
    assert len(v) == n, (len(v), n)
    return v
for name, v in (("8192", sized(8192)), ("8193", sized(8193)),
                 ("180", ",".join("k%d=%d" % (i, i) for i in range(180))),
                 ("181", ",".join("k%d=%d" % (i, i) for i in range(181)))):
    with open("%s/baggage.%s" % (t, name), "w") as f:
        f.write(v)
PY
for n in 8192 8193 180 181; do
	craw "c-bag-$n" tc -H "baggage: $(cat "$T/baggage.$n")"
done
ccase c-b3-debug b3 --format b3 --debug
ccase c-b3-off b3 --format b3 --unsampled
ccase c-b3m-64 b3multi --format b3multi --bits 64
ccase c-b3m-debug b3multi --format b3multi --debug
ccase c-jg-64-bag jaeger --format jaeger --bits 64 --baggage k1=v1,k2=v2
ccase c-jg-off jaeger --format jaeger --unsampled
TR=$(hex 16) SP=$(hex 8)
ids c-jg-debug "$TR" "$SP"
craw c-jg-debug jaeger -H "uber-trace-id: $TR:$SP:0:3" -H 'uberctx-user: alice%20b' -H 'Uberctx-Tenant: acme'

# (a) 6 CLIENT spans; (b) 11 + 9 SERVER spans at least; (c) 12 x 2.
wait_spans "$RSPANS" 50 20 || note "fewer than 50 spans after every request"
settle "$RSPANS"
settle "$T/js.jsonl"

# --- checks -------------------------------------------------------------------
# Each group is judged on its own; every failing group is reported.
check_json "$RSPANS" support="$SUPPORT" peer="$T/js.jsonl" t="$T" <<'PY'
import sys; sys.path.insert(0, args["support"]); from propcheck import *
import os
reqs = load(args["peer"])
def req(path):
    r = [r for r in reqs if r["url"] == path]
    assert len(r) == 1, "the Node server saw %d requests for %s" % (len(r), path)
    return r[0]
def creq(case):
    return req("/c/%s?case=%s" % (case, case))
def client(case):
    with open(os.path.join(args["t"], "cl.%s.json" % case)) as f:
        return json.loads(f.read())
def ids(case):
    with open(os.path.join(args["t"], "ids." + case)) as f:
        t, s = f.read().split()
    return pad(t), s

# (a) our injection, read by the JS propagators
def a_format(f):
    ours = spans_of(rows, "curl-" + f)
    assert len(ours) == 1 and ours[0]["kind"] == CLIENT and ours[0]["parentSpanId"] == "", \
        "curl-%s: one root CLIENT span expected:\n%s" % (f, desc(ours))
    c = ours[0]
    r = req("/a/%s/on" % f)
    hl = r["raw"]
    same_context(extracted(r, f), c["traceId"], c["spanId"], True, what="(a) %s sampled" % f)
    wire(hl, f, c["traceId"], c["spanId"], True, what="(a)")
    absent(hl, [h for h in ALL_TRACE_HEADERS if h not in FORMAT_HEADERS[f]], "(a) %s only" % f)
    injected_first(hl, FORMAT_HEADERS[f], "(a) " + f)
    assert values(hl, "user-agent")[0].startswith("curl/"), show_headers(hl)
def a_off(f):
    assert not spans_of(rows, "curl-%s-off" % f), "always_off exported a span"
    r = req("/a/%s/off" % f)
    e = extracted(r, f)
    assert e and e["valid"] and e["traceFlags"] == 0 and not e["debug"], \
        "(a) %s always_off: JS extracted %r from %s" % (f, e, show_headers(r["raw"]))
    wire(r["raw"], f, e["traceId"], e["spanId"], False, what="(a) always_off")
def a_all():
    c = spans_of(rows, "curl-all")
    assert len(c) == 1, desc(c)
    c = c[0]
    r = req("/a/all/on")
    for f in ["tracecontext", "b3", "b3multi", "jaeger"]:
        wire(r["raw"], f, c["traceId"], c["spanId"], True, what="(a) all formats")
    for k in ("tracecontext", "b3", "jaeger"):
        same_context(r[k], c["traceId"], c["spanId"], True, what="(a) all formats, JS " + k)
    absent(r["raw"], ["baggage", "tracestate", "x-b3-parentspanid"], "(a) all formats, no inbound request")
    injected_first(r["raw"], ALL_TRACE_HEADERS, "(a) all formats")
def a_none():
    c = spans_of(rows, "curl-none")
    assert len(c) == 1 and c[0]["kind"] == CLIENT, "OTEL_PROPAGATORS=none still traces:\n" + desc(c)
    r = req("/a/none/on")
    absent(r["raw"], ALL_TRACE_HEADERS + ("baggage",), "(a) OTEL_PROPAGATORS=none")
    assert all(r[k] is None for k in ("tracecontext", "b3", "jaeger")), r
for f in ["tracecontext", "b3", "b3multi", "jaeger"]:
    soft("(a) %s: curl's CLIENT span read by the JS propagator" % f, a_format, f)
    soft("(a) %s: always_off, sampled 0" % f, a_off, f)
soft("(a) all five formats at once", a_all)
soft("(a) OTEL_PROPAGATORS=none", a_none)

# (b) our extraction of what the JS propagators inject
def continued(case, svc, trace, parent):
    sp = case_spans(rows, case)
    assert len(sp) == 1, "%s: one SERVER span expected in %s:\n%s" % (case, svc, desc(sp))
    s = sp[0]
    assert s["kind"] == SERVER and s["resource"]["service.name"] == svc, desc(sp)
    assert (s["traceId"], s["parentSpanId"]) == (trace, parent), \
        "%s: our SERVER span should continue trace %s with parent %s:\n%s" % (case, trace, parent, desc(sp))
    assert s["spanId"] != parent and HEX16.match(s["spanId"]), desc(sp)
def nothing(case, trace):
    sp = case_spans(rows, case) + [s for s in rows if s["traceId"] == trace]
    assert not sp, "%s: an unsampled inbound context exported spans:\n%s" % (case, desc(sp))
def b_js(case, svc):
    c = client(case)
    if c["sampled"]:
        continued(case, "py-" + svc, c["traceId"], c["spanId"])
    else:
        nothing(case, c["traceId"])
    if "-64" in case:
        assert c["traceId"].startswith("0" * 16), c
for case, svc in (("b-tc-on", "tracecontext"), ("b-tc-off", "tracecontext"),
                  ("b-b3-on", "b3"), ("b-b3-64", "b3"), ("b-b3-off", "b3"), ("b-b3-debug", "b3"),
                  ("b-b3m-on", "b3multi"), ("b-b3m-64", "b3multi"), ("b-b3m-off", "b3multi"),
                  ("b-b3m-debug", "b3multi"),
                  ("b-jg-on", "jaeger"), ("b-jg-64", "jaeger"), ("b-jg-off", "jaeger")):
    soft("(b) %s into py-%s" % (case, svc), b_js, case, svc)
def b_multi_into_b3():
    c = client("b-b3m-into-b3")
    try:
        continued("b-b3m-into-b3", "py-b3", c["traceId"], c["spanId"])
    except AssertionError as e:
        raise AssertionError("OTEL_PROPAGATORS=b3 must extract the multi-header encoding too "
                             "(OpenTelemetry B3 requirements; the JS B3Propagator does): %s" % e)
def b_tc_into_b3():
    c = client("b-tc-into-b3")
    sp = case_spans(rows, "b-tc-into-b3")
    assert len(sp) == 1 and sp[0]["parentSpanId"] == "" and sp[0]["traceId"] != c["traceId"], \
        "OTEL_PROPAGATORS=b3 must ignore traceparent: a root SERVER span expected:\n" + desc(sp)
soft("(b) JS B3 multi headers into OTEL_PROPAGATORS=b3", b_multi_into_b3)
soft("(b) traceparent into OTEL_PROPAGATORS=b3", b_tc_into_b3)
for case, svc in (("r-b3-parent", "b3"), ("r-b3m-true", "b3multi"), ("r-jg-pct", "jaeger"),
                  ("r-jg-parent", "jaeger"), ("r-jg-debug", "jaeger"), ("r-prec-tc-b3", "tc-b3"),
                  ("r-prec-b3-tc", "b3-tc"), ("r-prec-tc-only", "tc-b3")):
    soft("(b) crafted %s into py-%s" % (case, svc), lambda case=case, svc=svc: continued(case, "py-" + svc, *ids(case)))
soft("(b) crafted r-b3m-false", lambda: nothing("r-b3m-false", ids("r-b3m-false")[0]))
def b_nostate():
    # b3 without a sampling state defers the decision: no span, or one
    # that continues the trace.
    if case_spans(rows, "r-b3-nostate"):
        continued("r-b3-nostate", "py-b3", *ids("r-b3-nostate"))
def b_bare(case):
    # Bare sampling states carry no ids: nothing to continue.
    sp = case_spans(rows, case)
    assert len(sp) <= 1 and all(s["parentSpanId"] == "" for s in sp), \
        "%s: a bare b3 flag has no parent to continue:\n%s" % (case, desc(sp))
soft("(b) crafted r-b3-nostate", b_nostate)
for case in ("r-b3-bare-1", "r-b3-bare-d", "r-b3-bare-0"):
    soft("(b) crafted " + case, b_bare, case)

# (c) JS -> relay under the library -> JS
def chain(case, relay, trace=None, parent=None):
    """Our SERVER and CLIENT spans of a sampled case through a relay."""
    sp = case_spans(rows, case)
    srv = [s for s in sp if s["kind"] == SERVER]
    cli = [s for s in sp if s["kind"] == CLIENT]
    assert len(sp) == 2 and len(srv) == 1 and len(cli) == 1 and \
        all(s["resource"]["service.name"] == relay for s in sp), \
        "%s: one SERVER and one CLIENT span of %s expected:\n%s" % (case, relay, desc(sp))
    srv, cli = srv[0], cli[0]
    if trace:
        assert (srv["traceId"], srv["parentSpanId"]) == (trace, parent), \
            "%s: our SERVER span should continue %s/%s:\n%s" % (case, trace, parent, desc(sp))
    else:
        assert srv["parentSpanId"] == "", desc(sp)
    assert cli["traceId"] == srv["traceId"] and cli["parentSpanId"] == srv["spanId"], \
        "%s: our CLIENT span is not the child of our SERVER span:\n%s" % (case, desc(sp))
    return srv, cli
def unsampled(case, fmt):
    c = client(case)
    assert not case_spans(rows, case), "%s: spans exported:\n%s" % (case, desc(case_spans(rows, case)))
    r = creq(case)
    e = extracted(r, fmt)
    assert e and e["valid"] and e["traceId"] == c["traceId"] and e["traceFlags"] == 0, \
        "%s: the unsampled context did not travel: JS extracted %r from %s" % (case, e, show_headers(r["raw"]))
    wire(r["raw"], fmt, c["traceId"], e["spanId"], False, what=case)
TC_SENT = ("traceparent", "tracestate", "baggage")
def c_tc_ts():
    c = client("c-tc-ts")
    srv, cli = chain("c-tc-ts", "relay-tc", c["traceId"], c["spanId"])
    r = creq("c-tc-ts")
    same_context(r["tracecontext"], c["traceId"], cli["spanId"], True, what="c-tc-ts")
    wire(r["raw"], "tracecontext", c["traceId"], cli["spanId"], True, what="c-tc-ts")
    assert one(r["raw"], "tracestate") == "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", show_headers(r["raw"])
    assert r["tracecontext"]["traceState"] == "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", r["tracecontext"]
    absent(r["raw"], [h for h in ALL_TRACE_HEADERS if h not in TC_SENT], "default OTEL_PROPAGATORS")
    injected_first(r["raw"], TC_SENT, "c-tc-ts")
def c_bag():
    c = client("c-bag")
    srv, cli = chain("c-bag", "relay-tc", c["traceId"], c["spanId"])
    r = creq("c-bag")
    assert one(r["raw"], "baggage") == c["headers"]["baggage"], show_headers(r["raw"])
    bag = r["baggage"]["w3c"] or {}
    assert {k: v["value"] for k, v in bag.items()} == {"k1": "v1", "k2": "v2"}, \
        "the JS W3CBaggagePropagator read %r" % bag
    same_context(r["tracecontext"], c["traceId"], cli["spanId"], True, what="c-bag")
    injected_first(r["raw"], TC_SENT, "c-bag")
def c_bag_rich():
    chain("c-bag-rich", "relay-tc")
    r = creq("c-bag-rich")
    assert one(r["raw"], "baggage") == "k1=v1;p=1,k2=hello%20world", show_headers(r["raw"])
    bag = r["baggage"]["w3c"] or {}
    assert bag.get("k1", {}).get("value") == "v1" and bag["k1"].get("metadata") == "p=1", bag
    assert bag.get("k2", {}).get("value") == "hello world", bag
def c_bag_limit(n, fwd):
    with open(os.path.join(args["t"], "baggage." + n)) as f:
        sent = f.read()
    r = creq("c-bag-" + n)
    got = values(r["raw"], "baggage")
    if fwd:
        assert got == [sent], "a baggage within the W3C limits (%d bytes, %d members) " \
            "must be forwarded unchanged; got %d header(s) of %s bytes" % (
                len(sent), sent.count(",") + 1, len(got), [len(g) for g in got])
        bag = r["baggage"]["w3c"] or {}
        assert len(bag) == sent.count(",") + 1, "JS read %d members" % len(bag)
    else:
        assert got == [], "a baggage over the W3C limits (%d bytes, %d members) was " \
            "forwarded (%s bytes)" % (len(sent), sent.count(",") + 1, [len(g) for g in got])
def c_b3_debug():
    c = client("c-b3-debug")
    srv, cli = chain("c-b3-debug", "relay-b3", c["traceId"], c["spanId"])
    r = creq("c-b3-debug")
    wire(r["raw"], "b3", c["traceId"], cli["spanId"], True, debug=True, what="c-b3-debug")
    same_context(r["b3"], c["traceId"], cli["spanId"], True, debug=True, what="c-b3-debug")
    absent(r["raw"], [h for h in ALL_TRACE_HEADERS if h != "b3"] + ["baggage"], "OTEL_PROPAGATORS=b3")
    injected_first(r["raw"], ("b3",), "c-b3-debug")
def c_b3m_64():
    c = client("c-b3m-64")
    srv, cli = chain("c-b3m-64", "relay-b3multi", c["traceId"], c["spanId"])
    r = creq("c-b3m-64")
    assert c["traceId"].startswith("0" * 16) and len(c["headers"]["x-b3-traceid"]) == 16, c
    wire(r["raw"], "b3multi", c["traceId"], cli["spanId"], True, what="c-b3m-64")
    same_context(r["b3"], c["traceId"], cli["spanId"], True, what="c-b3m-64")
    absent(r["raw"], ["b3", "traceparent", "uber-trace-id"], "OTEL_PROPAGATORS=b3multi")
    pid = values(r["raw"], "x-b3-parentspanid")
    assert pid in ([], [srv["spanId"]]), "x-b3-parentspanid, when sent, names our SERVER span: %r" % pid
    injected_first(r["raw"], FORMAT_HEADERS["b3multi"], "c-b3m-64")
def c_b3m_debug():
    c = client("c-b3m-debug")
    srv, cli = chain("c-b3m-debug", "relay-b3multi", c["traceId"], c["spanId"])
    r = creq("c-b3m-debug")
    wire(r["raw"], "b3multi", c["traceId"], cli["spanId"], True, debug=True, what="c-b3m-debug")
    same_context(r["b3"], c["traceId"], cli["spanId"], True, debug=True, what="c-b3m-debug")
def c_jg_64_bag():
    c = client("c-jg-64-bag")
    srv, cli = chain("c-jg-64-bag", "relay-jaeger", c["traceId"], c["spanId"])
    r = creq("c-jg-64-bag")
    wire(r["raw"], "jaeger", c["traceId"], cli["spanId"], True, what="c-jg-64-bag")
    same_context(r["jaeger"], c["traceId"], cli["spanId"], True, what="c-jg-64-bag")
    for k in ("k1", "k2"):
        assert one(r["raw"], "uberctx-" + k) == c["headers"]["uberctx-" + k], show_headers(r["raw"])
    bag = r["baggage"]["jaeger"] or {}
    assert {k: v["value"] for k, v in bag.items()} == {"k1": "v1", "k2": "v2"}, "JS Jaeger baggage %r" % bag
    absent(r["raw"], ["traceparent", "b3", "x-b3-traceid", "baggage"], "OTEL_PROPAGATORS=jaeger")
    injected_first(r["raw"], ("uber-trace-id", "uberctx-k1", "uberctx-k2"), "c-jg-64-bag")
def c_jg_debug():
    t, s = ids("c-jg-debug")
    srv, cli = chain("c-jg-debug", "relay-jaeger", t, s)
    r = creq("c-jg-debug")
    wire(r["raw"], "jaeger", t, cli["spanId"], True, debug=True, what="c-jg-debug")
    same_context(r["jaeger"], t, cli["spanId"], True, what="c-jg-debug")
    assert one(r["raw"], "uberctx-user") == "alice%20b", show_headers(r["raw"])
    assert one(r["raw"], "uberctx-tenant") == "acme", show_headers(r["raw"])
    bag = r["baggage"]["jaeger"] or {}
    assert {k: v["value"] for k, v in bag.items()} == {"user": "alice b", "tenant": "acme"}, \
        "JS Jaeger baggage %r" % bag
soft("(c) tracecontext + tracestate", c_tc_ts)
soft("(c) tracecontext unsampled", unsampled, "c-tc-off", "tracecontext")
soft("(c) W3C baggage from the JS propagator", c_bag)
soft("(c) W3C baggage with properties", c_bag_rich)
for n, fwd in (("8192", True), ("8193", False), ("180", True), ("181", False)):
    soft("(c) W3C baggage limit %s" % n, c_bag_limit, n, fwd)
soft("(c) b3 debug", c_b3_debug)
soft("(c) b3 unsampled", unsampled, "c-b3-off", "b3")
soft("(c) b3multi 64-bit", c_b3m_64)
soft("(c) b3multi debug", c_b3m_debug)
soft("(c) jaeger 64-bit + uberctx from the JS propagator", c_jg_64_bag)
soft("(c) jaeger unsampled", unsampled, "c-jg-off", "jaeger")
soft("(c) jaeger debug + percent-encoded uberctx", c_jg_debug)
print("%d groups failed" % len(PROBLEMS))
done()
PY
note "every format, both directions, with the JS propagators: checked"
pass
