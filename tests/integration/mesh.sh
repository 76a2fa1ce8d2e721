#!/bin/bash
# Service mesh forwarding: a request as Envoy (Istio) sends it, with
# x-request-id and B3 multi headers, reaches a plain Python service with no
# tracing code (tests/support/relay_app.py, a ThreadingHTTPServer that calls
# a second service with urllib while serving) run under the library. The
# second service (tests/support/http_peer.py, which records every request
# head) must receive the same x-request-id and B3 headers naming the same
# trace, with our CLIENT span as the parent, our CLIENT span being the child
# of our SERVER span, itself the child of the inbound x-b3-spanid.
#   - OTEL_PROPAGATORS=tracecontext,baggage,b3multi: 128- and 64-bit trace
#     ids (Envoy's Zipkin tracer sends 64-bit ones by default), unsampled,
#     no inbound context, the application's own x-request-id and baggage
#     left alone, Envoy's other headers not copied, 8 requests at once.
#   - OTEL_PROPAGATORS=b3: the same Envoy request, and a single b3 header,
#     go out as one b3 header.
#   - every outbound request of one inbound request gets the headers.
#   - OTELPRELOAD_FORWARD_HEADERS=X-Request-ID,x-CUSTOM: both copied, names
#     case-insensitive, values up to 1024 bytes.
. "$(dirname "$0")/../support/lib.sh" "$@"
# The checks import tests/support modules: leave no __pycache__ in the tree.
export PYTHONDONTWRITEBYTECODE=1
. "$SRC/tests/support/http_lib.sh"
need "$LIB"
command -v curl >/dev/null || fail "curl is not installed"
RELAY=$SRC/tests/support/relay_app.py
SUPPORT=$SRC/tests/support
start_receiver
start_peer
PEER=http://127.0.0.1:$PPORT

# start_relay NAME [ENV=VALUE...]: sets RELAYPORT.
start_relay() {
	local name=$1
	shift
	spawn_server "the relay $name" "$T/$name.port" "$T/$name.log" 15 \
		env LD_PRELOAD="$LIB" OTEL_SERVICE_NAME="$name" OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" \
		OTEL_BSP_SCHEDULE_DELAY=100 "$@" \
		timeout 100 "$PYTHON" -u "$RELAY" --port-file "$T/$name.port" --upstream "$PEER"
	RELAYPORT=$SERVER_PORT
}
hex() {
	od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}
uuid() {
	"$PYTHON" -c 'import uuid; print(uuid.uuid4())'
}
# send ID PORT [QUERY_EXTRA] -- CURL_ARGS...: a request as the mesh's
# sidecar sends it (curl, not preloaded).
send() {
	local id=$1 port=$2 extra=$3 code
	shift 4
	code=$(curl --noproxy '*' -sS --max-time 20 -o "$T/out.$id" -w '%{http_code}' "$@" \
		"http://127.0.0.1:$port/m/$id?case=$id$extra") || fail "$id: curl failed"
	[ "$code" = 200 ] || fail "$id: got $code: $(head -c 300 "$T/out.$id")"
}
# envoy ID TRACE SPAN SAMPLED REQUEST_ID: Envoy's headers, recorded in $T/case.ID.
envoy_headers() {
	local id=$1 tr=$2 sp=$3 smp=$4 rid=$5 pa
	pa=$(hex 8)
	printf '{"trace": "%s", "span": "%s", "rid": "%s"}\n' "$tr" "$sp" "$rid" >"$T/case.$id"
	ENVOY=(-H "x-request-id: $rid" -H "x-b3-traceid: $tr" -H "x-b3-spanid: $sp"
		-H "x-b3-parentspanid: $pa" -H "x-b3-sampled: $smp" -H "x-envoy-attempt-count: 1"
		-H "x-forwarded-proto: http" -H "x-envoy-internal: true" -H "X-Custom: not-listed")
}

start_relay mesh-multi OTEL_PROPAGATORS=tracecontext,baggage,b3multi
MULTI=$RELAYPORT
start_relay mesh-b3 OTEL_PROPAGATORS=b3
B3=$RELAYPORT
start_relay mesh-fwd OTEL_PROPAGATORS=tracecontext,baggage,b3multi \
	OTELPRELOAD_FORWARD_HEADERS=X-Request-ID,x-CUSTOM
FWD=$RELAYPORT

envoy_headers m-multi "$(hex 16)" "$(hex 8)" 1 "$(uuid)"
send m-multi "$MULTI" "" -- "${ENVOY[@]}"
envoy_headers m-multi-64 "$(hex 8)" "$(hex 8)" 1 "$(uuid)"
send m-multi-64 "$MULTI" "" -- "${ENVOY[@]}"
envoy_headers m-multi-off "$(hex 16)" "$(hex 8)" 0 "$(uuid)"
send m-multi-off "$MULTI" "" -- "${ENVOY[@]}"
RID=$(uuid)
printf '{"rid": "%s"}\n' "$RID" >"$T/case.m-noctx"
send m-noctx "$MULTI" "" -- -H "x-request-id: $RID"
envoy_headers m-own "$(hex 16)" "$(hex 8)" 1 "$(uuid)"
send m-own "$MULTI" "&own=X-Request-Id:app-own&own=Baggage:app%3D1" -- "${ENVOY[@]}" -H 'baggage: k=v'
envoy_headers m-bag "$(hex 16)" "$(hex 8)" 1 "$(uuid)"
send m-bag "$MULTI" "" -- "${ENVOY[@]}" -H 'baggage: tenant=acme'

envoy_headers m-b3-from-multi "$(hex 16)" "$(hex 8)" 1 "$(uuid)"
send m-b3-from-multi "$B3" "" -- "${ENVOY[@]}"
TR=$(hex 16) SP=$(hex 8) RID=$(uuid)
printf '{"trace": "%s", "span": "%s", "rid": "%s"}\n' "$TR" "$SP" "$RID" >"$T/case.m-b3-single"
send m-b3-single "$B3" "" -- -H "x-request-id: $RID" -H "b3: $TR-$SP-1-$(hex 8)"

envoy_headers m-fwd "$(hex 16)" "$(hex 8)" 1 "$(uuid)"
send m-fwd "$FWD" "" -- "${ENVOY[@]}" -H 'x-other: bar'
V1024=$(head -c 1024 /dev/zero | tr '\0' 'v')
envoy_headers m-fwd-1024 "$(hex 16)" "$(hex 8)" 1 "$(uuid)"
send m-fwd-1024 "$FWD" "" -- "${ENVOY[@]/X-Custom: not-listed/X-Custom: $V1024}"
envoy_headers m-fwd-1025 "$(hex 16)" "$(hex 8)" 1 "$(uuid)"
send m-fwd-1025 "$FWD" "" -- "${ENVOY[@]/X-Custom: not-listed/X-Custom: ${V1024}w}"

# One inbound request, two outbound ones (tests/support/w3c_service.py posts
# to each URL it is given): both carry the forwarded headers.
spawn_server "the two-call service" "$T/two.port" "$T/two.log" 15 \
	env LD_PRELOAD="$LIB" OTEL_SERVICE_NAME=mesh-two OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" \
	OTEL_BSP_SCHEDULE_DELAY=100 OTEL_PROPAGATORS=b3multi \
	timeout 100 "$PYTHON" -u "$SUPPORT/w3c_service.py" --port-file "$T/two.port"
TWOPORT=$SERVER_PORT
envoy_headers m-two "$(hex 16)" "$(hex 8)" 1 "$(uuid)"
out=$(curl --noproxy '*' -sS --max-time 20 "${ENVOY[@]}" -H 'Content-Type: application/json' \
	--data "[{\"url\": \"$PEER/m/two?case=m-two-0\"}, {\"url\": \"$PEER/m/two?case=m-two-1\"}]" \
	"http://127.0.0.1:$TWOPORT/") || fail "m-two: curl failed"
[ "$out" = "[200, 200]" ] || { cat "$T/two.log" >&2; fail "m-two: the service answered '$out'"; }

# 8 requests at once through the thread-per-request service.
pids=()
for i in 0 1 2 3 4 5 6 7; do
	envoy_headers "m-par-$i" "$(hex 16)" "$(hex 8)" 1 "$(uuid)"
	send "m-par-$i" "$MULTI" "" -- "${ENVOY[@]}" &
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || fail "a parallel request failed"
done

# 2 spans per sampled case: 5 + 2 + 3 + 8 cases; 3 for m-two.
wait_spans "$RSPANS" 39 20 || note "fewer than 39 spans after every request"
settle "$RSPANS"

check_json "$RSPANS" support="$SUPPORT" t="$T" pdir="$PDIR" <<'PY'
import sys; sys.path.insert(0, args["support"]); from propcheck import *
import os
peer = load(os.path.join(args["pdir"], "requests.jsonl"))
def case(c):
    with open(os.path.join(args["t"], "case." + c)) as f:
        return json.loads(f.read())
def upstream(c):
    r = [r for r in peer if ("case=" + c) in r["target"].partition("?")[2].split("&")]
    assert len(r) == 1, "%s: the second service saw %d requests" % (c, len(r))
    return head_headers(r[0]["head"])
def chain(c, svc, trace, parent):
    sp = case_spans(rows, c)
    srv = [s for s in sp if s["kind"] == SERVER]
    cli = [s for s in sp if s["kind"] == CLIENT]
    assert len(sp) == 2 and len(srv) == 1 and len(cli) == 1 and \
        all(s["resource"]["service.name"] == svc for s in sp), \
        "%s: one SERVER and one CLIENT span of %s expected:\n%s" % (c, svc, desc(sp))
    srv, cli = srv[0], cli[0]
    if trace:
        assert (srv["traceId"], srv["parentSpanId"]) == (trace, parent), \
            "%s: our SERVER span should have trace %s and the inbound span %s as parent:\n%s" % (
                c, trace, parent, desc(sp))
    else:
        assert srv["parentSpanId"] == "", "%s: no inbound context, a root SERVER span:\n%s" % (c, desc(sp))
    assert cli["traceId"] == srv["traceId"] and cli["parentSpanId"] == srv["spanId"], \
        "%s: our CLIENT span is not the child of our SERVER span:\n%s" % (c, desc(sp))
    return srv, cli
ENVOY_ONLY = ("x-envoy-attempt-count", "x-forwarded-proto", "x-envoy-internal")

def multi_case(c, svc="mesh-multi"):
    k = case(c)
    t = pad(k["trace"])
    srv, cli = chain(c, svc, t, k["span"])
    h = upstream(c)
    wire(h, "b3multi", t, cli["spanId"], True, what=c)
    wire(h, "tracecontext", t, cli["spanId"], True, what=c)
    pid = values(h, "x-b3-parentspanid")
    assert pid in ([], [srv["spanId"]]), "%s: x-b3-parentspanid, when sent, names our SERVER span %s: %r" % (
        c, srv["spanId"], pid)
    assert one(h, "x-request-id", c) == k["rid"], "%s: x-request-id %r, want %r" % (
        c, values(h, "x-request-id"), k["rid"])
    absent(h, ENVOY_ONLY + ("b3", "uber-trace-id"), c)
    return h, srv, cli

def g_multi():
    h, srv, cli = multi_case("m-multi")
    absent(h, ["x-custom", "baggage", "tracestate"], "m-multi: only x-request-id is forwarded by default")
    injected_first(h, FORMAT_HEADERS["b3multi"] + ("traceparent", "x-request-id"), "m-multi")
    h, srv, cli = multi_case("m-multi-64")
    assert srv["traceId"].startswith("0" * 16), "64-bit trace id padded: %s" % srv["traceId"]
    print("Envoy B3 multi + x-request-id -> b3multi: same trace, our CLIENT span as parent (also 64-bit)")
def g_parallel():
    for i in range(8):
        multi_case("m-par-%d" % i)
    print("8 requests at once: each outbound request carries its own inbound request's headers")
def g_unsampled():
    k = case("m-multi-off")
    assert not case_spans(rows, "m-multi-off"), desc(case_spans(rows, "m-multi-off"))
    assert not [s for s in rows if s["traceId"] == k["trace"]], "a span of the unsampled trace was exported"
    h = upstream("m-multi-off")
    sid = one(h, "x-b3-spanid", "m-multi-off")
    wire(h, "b3multi", k["trace"], sid, False, what="m-multi-off")
    wire(h, "tracecontext", k["trace"], sid, False, what="m-multi-off")
    assert one(h, "x-request-id") == k["rid"], show_headers(h)
    print("x-b3-sampled: 0 -> nothing exported, the context still travels with sampled 0")
def g_noctx():
    k = case("m-noctx")
    srv, cli = chain("m-noctx", "mesh-multi", None, None)
    h = upstream("m-noctx")
    wire(h, "b3multi", cli["traceId"], cli["spanId"], True, what="m-noctx")
    assert one(h, "x-request-id") == k["rid"], show_headers(h)
    print("no inbound context: a new trace, x-request-id still forwarded")
def g_own():
    k = case("m-own")
    h = upstream("m-own")
    assert values(h, "x-request-id") == ["app-own"], \
        "the application's own x-request-id must be left alone, not duplicated: %s" % show_headers(h)
    assert values(h, "baggage") == ["app=1"], \
        "the application's own baggage must be left alone, not duplicated: %s" % show_headers(h)
    srv, cli = chain("m-own", "mesh-multi", pad(k["trace"]), k["span"])
    wire(h, "b3multi", pad(k["trace"]), cli["spanId"], True, what="m-own")
    h = upstream("m-bag")
    assert one(h, "baggage") == "tenant=acme", show_headers(h)
    print("the application's own headers are never duplicated; inbound baggage travels")
def g_b3_from_multi():
    k = case("m-b3-from-multi")
    t = pad(k["trace"])
    try:
        srv, cli = chain("m-b3-from-multi", "mesh-b3", t, k["span"])
    except AssertionError as e:
        raise AssertionError("OTEL_PROPAGATORS=b3 must extract Envoy's multi headers too (OpenTelemetry "
                             "B3 requirements: extract both encodings, inject the configured one): %s" % e)
    h = upstream("m-b3-from-multi")
    wire(h, "b3", t, cli["spanId"], True, what="m-b3-from-multi")
    absent(h, [x for x in ALL_TRACE_HEADERS if x != "b3"] + list(ENVOY_ONLY), "OTEL_PROPAGATORS=b3")
    assert one(h, "x-request-id") == k["rid"], show_headers(h)
    injected_first(h, ("b3", "x-request-id"), "m-b3-from-multi")
    print("OTEL_PROPAGATORS=b3: Envoy's multi headers go out as one b3 header")
def g_b3_single():
    k = case("m-b3-single")
    srv, cli = chain("m-b3-single", "mesh-b3", pad(k["trace"]), k["span"])
    h = upstream("m-b3-single")
    wire(h, "b3", pad(k["trace"]), cli["spanId"], True, what="m-b3-single")
    absent(h, [x for x in ALL_TRACE_HEADERS if x != "b3"], "OTEL_PROPAGATORS=b3")
    assert one(h, "x-request-id") == k["rid"], show_headers(h)
    print("OTEL_PROPAGATORS=b3: a single b3 header with a parent id goes out as b3: T-<our client>-1")
def g_fwd():
    h, srv, cli = multi_case("m-fwd", "mesh-fwd")
    assert one(h, "x-custom") == "not-listed", show_headers(h)
    absent(h, ["x-other"], "m-fwd: x-other is not in OTELPRELOAD_FORWARD_HEADERS")
    injected_first(h, FORMAT_HEADERS["b3multi"] + ("traceparent", "x-request-id", "x-custom"), "m-fwd")
    h, srv, cli = multi_case("m-fwd-1024", "mesh-fwd")
    assert values(h, "x-custom") == ["v" * 1024], "a 1024-byte value is forwarded whole: %s" % show_headers(h)
    h, srv, cli = multi_case("m-fwd-1025", "mesh-fwd")
    assert values(h, "x-custom") == [], \
        "a 1025-byte value is over the bound: not forwarded (a cut value would be a wrong id): %s" % show_headers(h)
    print("OTELPRELOAD_FORWARD_HEADERS=X-Request-ID,x-CUSTOM: both forwarded, up to 1024 bytes")
def g_two():
    k = case("m-two")
    t = pad(k["trace"])
    got = []
    for i in range(2):
        h = upstream("m-two-%d" % i)
        assert one(h, "x-request-id") == k["rid"], "outbound request %d: %s" % (i, show_headers(h))
        sid = one(h, "x-b3-spanid")
        wire(h, "b3multi", t, sid, True, what="m-two outbound %d" % i)
        absent(h, ENVOY_ONLY + ("traceparent",), "m-two")
        got.append(sid)
    ours = spans_of(rows, "mesh-two")
    srv = [s for s in ours if s["kind"] == SERVER]
    cli = {s["spanId"]: s for s in ours if s["kind"] == CLIENT}
    assert len(srv) == 1 and len(cli) == 2 and sorted(cli) == sorted(got), \
        "one SERVER and two CLIENT spans, the CLIENT ones named by the outbound x-b3-spanid %s:\n%s" % (got, desc(ours))
    assert (srv[0]["traceId"], srv[0]["parentSpanId"]) == (t, k["span"]), desc(ours)
    assert all(c["parentSpanId"] == srv[0]["spanId"] and c["traceId"] == t for c in cli.values()), desc(ours)
    print("one inbound request, two outbound ones: both carry x-request-id and the trace, each its own span")
for name, fn in (("b3multi", g_multi), ("two outbound requests", g_two), ("parallel", g_parallel), ("unsampled", g_unsampled),
                 ("no context", g_noctx), ("own headers", g_own), ("b3 from multi", g_b3_from_multi),
                 ("b3 single", g_b3_single), ("forward headers", g_fwd)):
    soft(name, fn)
done()
PY
note "mesh forwarding: x-request-id and B3 travel, naming our CLIENT span"
pass
