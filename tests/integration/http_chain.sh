#!/bin/bash
# One trace across three unmodified programs: curl -> nginx (proxy_pass,
# master and worker processes) -> python3 -m http.server, every one
# preloaded with the shipped library and exporting to the receiver, gives
# exactly four spans linked curl CLIENT -> nginx SERVER -> nginx CLIENT ->
# python SERVER, each with its attributes. Twice: once with nginx told not
# to forward the inbound traceparent, once with nginx's default behaviour,
# which forwards every request header, traceparent included, upstream.
# Also: an unsampled inbound context through nginx records nothing; the
# inbound tracestate travels on nginx's outbound request (to the test
# peer, which shows the injected traceparent naming nginx's CLIENT span);
# a thread-per-request Python proxy serving 8 requests at once gives 8
# exact traces.
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/support/http_lib.sh"
need "$LIB"
command -v curl >/dev/null || fail "curl is not installed"
need_nginx
start_receiver
SUPPORT=$SRC/tests/support
mkdir -p "$T/www"
echo upstream >"$T/www/up.txt"
start_preloaded_http_server py-upstream
mkdir -p "$T/nginx"
start_nginx "$T/nginx" on "
server {
	listen 127.0.0.1:@PORT@;
	location /strip/ {
		proxy_pass http://127.0.0.1:$HPORT/;
		proxy_set_header traceparent \"\";
	}
	location /fwd/ {
		proxy_pass http://127.0.0.1:$HPORT/;
	}
}" OTEL_SERVICE_NAME=nginx-proxy OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" OTEL_BSP_SCHEDULE_DELAY=100

# chain LOCATION SPANS_SO_FAR: one curl request through nginx's LOCATION
# and the check of its trace.
chain() {
	local loc=$1 total=$2 out code
	out=$T/$loc.out
	code=$(LD_PRELOAD="$LIB" OTEL_SERVICE_NAME="curl-$loc" OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" \
		curl --noproxy '*' -sS -w '%{http_code}' -o "$out" "http://127.0.0.1:$NPORT/$loc/up.txt?q=1") ||
		fail "$loc: curl through nginx failed"
	[ "$code" = 200 ] && cmp -s "$T/www/up.txt" "$out" || fail "$loc: curl got $code, $(cat "$out")"
	wait_spans "$RSPANS" "$total" 10 || {
		cat "$RSPANS" >&2
		fail "$loc: fewer than $total spans in all after the request"
	}
	settle "$RSPANS"
	{
		echo 'import sys; sys.path.insert(0, args["support"]); from spancheck import *'
		cat <<'PY'
loc, nport, hport = args["loc"], int(args["nport"]), int(args["hport"])
curl = spans_of(rows, "curl-" + loc)
assert len(curl) == 1, "one curl span, got %d" % len(curl)
c = curl[0]
trace = [s for s in rows if s["traceId"] == c["traceId"]]
show_chain = lambda: ["%s %s %s parent=%s" % (s["resource"]["service.name"], s["kind"], s["spanId"],
                                               s["parentSpanId"]) for s in trace]
assert len(trace) == 4, "one trace of 4 spans expected, got %d: %s" % (len(trace), show_chain())
by = lambda svc, kind: [s for s in trace if s["resource"]["service.name"] == svc and s["kind"] == kind]
ns, nc, ps = by("nginx-proxy", SERVER), by("nginx-proxy", CLIENT), by("py-upstream", SERVER)
assert len(ns) == len(nc) == len(ps) == 1, "curl CLIENT, nginx SERVER and CLIENT, python SERVER: %s" % show_chain()
ns, nc, ps = ns[0], nc[0], ps[0]
assert c["kind"] == CLIENT and c["parentSpanId"] == "", "curl's span is the root"
assert ns["parentSpanId"] == c["spanId"], "nginx SERVER is a child of curl CLIENT: %s" % show_chain()
assert nc["parentSpanId"] == ns["spanId"], "nginx CLIENT is a child of nginx SERVER: %s" % show_chain()
assert ps["parentSpanId"] == nc["spanId"], "python SERVER is a child of nginx CLIENT: %s" % show_chain()
for s in (c, ns, nc, ps):
    assert s["name"] == "GET" and s["attributes"]["http.request.method"] == "GET", s["name"]
    check_status(s, 200)
a = c["attributes"]
assert a["url.full"] == "http://127.0.0.1:%d/%s/up.txt?q=1" % (nport, loc), a
assert a["server.port"] == nport and a["network.peer.port"] == nport, a
a = ns["attributes"]
assert a["url.path"] == "/%s/up.txt" % loc and a["url.query"] == "q=1" and a["server.port"] == nport, a
assert a["user_agent.original"].startswith("curl/") and a["network.protocol.version"] == "1.1", a
a = nc["attributes"]
assert a["url.full"] == "http://127.0.0.1:%d/up.txt?q=1" % hport, a
assert a["server.address"] == "127.0.0.1" and a["server.port"] == hport, a
assert a["network.peer.address"] == "127.0.0.1" and a["network.peer.port"] == hport, a
assert a["network.protocol.version"] == "1.0", "nginx proxies with HTTP/1.0: %r" % a
a = ps["attributes"]
assert a["url.path"] == "/up.txt" and a["url.query"] == "q=1" and a["server.port"] == hport, a
assert a["network.protocol.version"] == "1.0" and a["client.address"] == "127.0.0.1", a
assert int(c["startTimeUnixNano"]) <= int(ns["startTimeUnixNano"]) <= int(nc["startTimeUnixNano"]) \
    <= int(ps["startTimeUnixNano"]), "children start after their parents"
print("%s-%s" % (c["traceId"], c["spanId"]))
PY
	} | check_json "$RSPANS" loc="$loc" nport="$NPORT" hport="$HPORT" support="$SUPPORT" >"$T/$loc.ids" ||
		exit 1
	# nginx read the traceparent curl's library injected: it names curl's span.
	grep -qx "/$loc/up.txt?q=1 200 tp=00-$(cat "$T/$loc.ids")-01 ua=curl/.*" "$T/nginx/access.log" || {
		cat "$T/nginx/access.log" >&2
		fail "$loc: nginx's access log does not show the traceparent naming curl's span"
	}
	note "$loc: one trace, curl CLIENT -> nginx SERVER -> nginx CLIENT -> python SERVER"
}

chain strip 4

# --- an inbound context that is not sampled is followed, not recorded -----
# curl (not preloaded) sends flags 00, then a sampled request as a marker:
# only the marker's three spans may appear.
UNS=5bd66ef5095369c7b0d1f8f4bd33716a
curl --noproxy '*' -sS -o /dev/null -H "traceparent: 00-$UNS-c532cb4098ac3dd2-00" \
	"http://127.0.0.1:$NPORT/strip/up.txt?unsampled" || fail "unsampled request through nginx failed"
MARK=9f4fb8e5b0b3c3c1a2d0e7f1f4c5b6a7
curl --noproxy '*' -sS -o /dev/null -H "traceparent: 00-$MARK-aaaaaaaaaaaaaaaa-01" \
	"http://127.0.0.1:$NPORT/strip/up.txt?marker" || fail "marker request through nginx failed"
wait_spans "$RSPANS" 7 10 || note "fewer than 7 spans in all after the marker"
settle "$RSPANS"
check_json "$RSPANS" uns="$UNS" mark="$MARK" <<'PY'
assert not [s for s in rows if s["traceId"] == args["uns"]], "a span of the unsampled trace was exported"
assert not [s for s in rows if "unsampled" in json.dumps(s["attributes"])], \
    "the unsampled request was recorded (in another trace): its context did not travel"
m = [s for s in rows if s["traceId"] == args["mark"]]
assert len(m) == 3 and len(rows) == 7, "marker: nginx SERVER, nginx CLIENT, python SERVER; got %d of %d" % (
    len(m), len(rows))
PY
note "unsampled inbound context (flags 00): nothing recorded by nginx or python"

# --- tracestate: nginx's outbound request carries the inbound tracestate --
start_peer
mkdir -p "$T/nginx2"
NGINX_PORT1=$NPORT
start_nginx "$T/nginx2" off "
server {
	listen 127.0.0.1:@PORT@;
	location /peer/ {
		proxy_pass http://127.0.0.1:$PPORT/;
		proxy_set_header traceparent \"\";
		proxy_set_header tracestate \"\";
	}
}" OTEL_SERVICE_NAME=nginx-ts OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" OTEL_BSP_SCHEDULE_DELAY=100
TS=4bf92f3577b34da6a3ce929d0e0e4736
curl --noproxy '*' -sS -o /dev/null -H "traceparent: 00-$TS-00f067aa0ba902b7-01" \
	-H 'tracestate: congo=t61rcWkgMzE,rojo=00f067aa0ba902b7' "http://127.0.0.1:$NPORT/peer/ts" ||
	fail "request through nginx to the peer failed"
wait_spans "$RSPANS" 9 10 || note "fewer than 9 spans in all after the tracestate request"
settle "$RSPANS"
{
	echo 'import sys; sys.path.insert(0, args["support"]); from spancheck import *'
	cat <<'PY'
client = [s for s in spans_of(rows, "nginx-ts") if s["kind"] == CLIENT]
server = [s for s in spans_of(rows, "nginx-ts") if s["kind"] == SERVER]
assert len(client) == 1 and len(server) == 1, "nginx SERVER and CLIENT spans: %d, %d" % (len(server), len(client))
assert server[0]["traceId"] == args["ts"] and server[0]["parentSpanId"] == "00f067aa0ba902b7"
assert client[0]["parentSpanId"] == server[0]["spanId"]
r = [r for r in peer_log(args["pdir"]) if r["target"] == "/ts"]
assert len(r) == 1, r
named_by(client[0], injected(r[0]["head"]))
assert header_values(r[0]["head"], "tracestate") == ["congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"], r[0]["head"]
PY
} | check_json "$RSPANS" ts="$TS" pdir="$PDIR" support="$SUPPORT" || exit 1
note "nginx -> peer: injected traceparent names nginx's CLIENT span; inbound tracestate travels"

# --- thread per request: a Python proxy serving 8 requests at once --------
# Its handler waits until all 8 are in, then fetches from the http.server
# upstream with urllib: 8 traces of exactly 4 spans, none mixed up.
env LD_PRELOAD="$LIB" OTEL_SERVICE_NAME=py-proxy OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" \
	OTEL_BSP_SCHEDULE_DELAY=100 timeout 60 "$PYTHON" - "$T/proxyport" "http://127.0.0.1:$HPORT" \
	>"$T/proxy.log" 2>&1 <<'PY' &
import http.server, os, sys, threading, urllib.request
port_file, upstream = sys.argv[1], sys.argv[2]
barrier = threading.Barrier(8, timeout=20)
class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        barrier.wait()
        with urllib.request.urlopen(upstream + self.path, timeout=20) as r:
            body, code = r.read(), r.status
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
PY
track $!
wait_file "$T/proxyport" 10 || { cat "$T/proxy.log" >&2; fail "the Python proxy did not start"; }
PROXY=$(cat "$T/proxyport")
pids=()
for i in 0 1 2 3 4 5 6 7; do
	LD_PRELOAD="$LIB" OTEL_SERVICE_NAME="curl-par-$i" OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" \
		curl --noproxy '*' -sS -o "$T/par.$i" "http://127.0.0.1:$PROXY/up.txt?n=$i" &
	pids+=($!)
done
for i in 0 1 2 3 4 5 6 7; do
	wait "${pids[$i]}" || fail "parallel request $i through the Python proxy failed"
	cmp -s "$T/www/up.txt" "$T/par.$i" || fail "parallel request $i got other bytes"
done
wait_spans "$RSPANS" 41 10 || note "fewer than 41 spans in all after the parallel requests"
settle "$RSPANS"
{
	echo 'import sys; sys.path.insert(0, args["support"]); from spancheck import *'
	cat <<'PY'
hport = int(args["hport"])
for i in range(8):
    c = spans_of(rows, "curl-par-%d" % i)
    assert len(c) == 1, "curl %d: %d spans" % (i, len(c))
    trace = [s for s in rows if s["traceId"] == c[0]["traceId"]]
    desc = ["%s kind=%d q=%s id=%s parent=%s" % (s["resource"]["service.name"], s["kind"],
            s["attributes"].get("url.query") or s["attributes"].get("url.full"), s["spanId"], s["parentSpanId"])
            for s in trace]
    assert len(trace) == 4, "request %d: a trace of 4 spans, got %d:\n%s" % (i, len(trace), "\n".join(desc))
    ps = [s for s in trace if s["resource"]["service.name"] == "py-proxy" and s["kind"] == SERVER]
    pc = [s for s in trace if s["resource"]["service.name"] == "py-proxy" and s["kind"] == CLIENT]
    up = [s for s in trace if s["resource"]["service.name"] == "py-upstream"]
    assert len(ps) == len(pc) == len(up) == 1, "\n".join(desc)
    assert ps[0]["parentSpanId"] == c[0]["spanId"], "\n".join(desc)
    assert pc[0]["parentSpanId"] == ps[0]["spanId"], "proxy CLIENT not the child of its own SERVER:\n" + "\n".join(desc)
    assert up[0]["parentSpanId"] == pc[0]["spanId"], "\n".join(desc)
    q = "n=%d" % i
    assert ps[0]["attributes"]["url.query"] == q and up[0]["attributes"]["url.query"] == q, "\n".join(desc)
    assert pc[0]["attributes"]["url.full"] == "http://127.0.0.1:%d/up.txt?%s" % (hport, q), pc[0]["attributes"]
    assert pc[0]["attributes"]["user_agent.original"].startswith("Python-urllib/")
PY
} | check_json "$RSPANS" hport="$HPORT" support="$SUPPORT" || exit 1
note "8 concurrent requests through a thread-per-request Python proxy: 8 exact traces of 4 spans"

# --- last: nginx's default, which forwards the inbound traceparent --------
NPORT=$NGINX_PORT1
chain fwd 45
pass
