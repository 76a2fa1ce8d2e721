#!/bin/bash
# Propagation interop with the official OpenTelemetry JS SDK
# (@opentelemetry/sdk-trace-node + @opentelemetry/instrumentation-http, W3C
# tracecontext), run by tests/support/node_peer.mjs. Node itself is never
# preloaded; only the other side runs under the library.
#   (a) curl under the library -> Node server: the SDK's SERVER span is a
#       child of our exported CLIENT span, through the traceparent we inject.
#   (b) Node client -> python3 -m http.server under the library: our exported
#       SERVER span is a child of the SDK's CLIENT span.
#   (c) Node client -> a Python ThreadingHTTPServer under the library that
#       calls a Node server with urllib while serving: one trace of four spans,
#       Node CLIENT -> our SERVER -> our CLIENT -> Node SERVER.
. "$(dirname "$0")/../support/lib.sh" "$@"
need "$LIB"
need_node
command -v curl >/dev/null || fail "curl is not installed"
PEER=$SRC/tests/support/node_peer.mjs
for m in sdk-trace-node instrumentation-http; do
	[ -d "$SRC/tests/node_modules/@opentelemetry/$m" ] ||
		fail "tests/node_modules/@opentelemetry/$m is missing: run 'npm ci' in tests/"
done

start_receiver
OTEL_ENV=(OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" OTEL_BSP_SCHEDULE_DELAY=100)

# --- (a) preloaded curl -> SDK-instrumented Node server ----------------------
spawn_server "the Node server" "$T/node.port" "$T/node-server.log" 15 \
	node "$PEER" server --port-file "$T/node.port" --spans "$T/node-server.jsonl" \
	--headers "$T/node-headers.jsonl" --requests 1 --lifetime 60
NPID=$SERVER_PID NPORT=$SERVER_PORT

out=$(env "${OTEL_ENV[@]}" OTEL_SERVICE_NAME=curl LD_PRELOAD="$LIB" \
	curl --noproxy '*' -sS --max-time 20 "http://127.0.0.1:$NPORT/from-curl?x=1" 2>"$T/curl.err")
rc=$?
[ "$rc" = 0 ] && [ "$out" = ok ] || { cat "$T/curl.err" >&2; fail "curl under the library: rc $rc, body '$out'"; }
[ -s "$T/curl.err" ] && { cat "$T/curl.err" >&2; fail "curl wrote to stderr"; }
# The Node server exits once it has answered and written its span.
wait "$NPID" || { cat "$T/node-server.log" >&2; fail "the Node server failed"; }
[ -s "$T/node-server.log" ] && { cat "$T/node-server.log" >&2; fail "the Node server wrote to its output"; }
wait_spans "$RSPANS" 1 10 || fail "no span exported by curl"
settle "$RSPANS"
cp "$RSPANS" "$T/ours-a.jsonl"

check_json "$T/node-server.jsonl" ours="$T/ours-a.jsonl" headers="$T/node-headers.jsonl" nport="$NPORT" <<'PY'
def load(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]
ours = [s for s in load(args["ours"]) if s["resource"].get("service.name") == "curl"]
assert len(ours) == 1, "curl exported %d spans, want exactly one CLIENT span: %s" % (len(ours), show(ours))
c = ours[0]
assert c["kind"] == 3 and c["name"] == "GET", "our span is a CLIENT span named GET: %s" % show(c)
assert c["parentSpanId"] == "", "curl's span is a root: %s" % show(c)
assert len(c["traceId"]) == 32 and len(c["spanId"]) == 16, show(c)

# What reached Node: one traceparent naming our CLIENT span, sampled.
hdrs = load(args["headers"])
assert len(hdrs) == 1, "the Node server saw %d requests" % len(hdrs)
h = hdrs[0]
assert h["method"] == "GET" and h["url"] == "/from-curl?x=1", h
tp = h["headers"].get("traceparent")
assert isinstance(tp, str), "no single traceparent header reached Node: %s" % h["headers"]
want = "00-%s-%s-01" % (c["traceId"], c["spanId"])
assert tp == want, "traceparent %r, want %r (the exported CLIENT span, sampled)" % (tp, want)
assert h["headers"].get("user-agent", "").startswith("curl/"), "curl's own headers arrive intact: %s" % h["headers"]
assert h["headers"].get("host") == "127.0.0.1:" + args["nport"], h["headers"]

# The SDK's SERVER span continues our trace, as our CLIENT span's child.
srv = [s for s in rows if s["kind"] == 2]
assert len(rows) == 1 and len(srv) == 1, "Node wrote one SERVER span"
s = srv[0]
assert s["traceId"] == c["traceId"], "Node's SERVER span is in our trace: %s vs %s" % (s["traceId"], c["traceId"])
assert s["parentSpanId"] == c["spanId"], "Node's SERVER span's parent %s is our CLIENT span %s" % (s["parentSpanId"], c["spanId"])
assert s["traceFlags"] == 1, "sampled"
assert s["attributes"].get("http.status_code") == 200, s["attributes"]
# Our client span starts before Node's server span (the JS SDK's clock
# has millisecond resolution; its end may follow our end legitimately).
assert int(c["startTimeUnixNano"]) <= int(s["startTimeUnixNano"]) + 5000000, "client starts before server (5 ms slack)"
PY
note "(a) curl under the library -> Node SDK server: Node's SERVER span is a child of our CLIENT span"

# --- (b) SDK-instrumented Node client -> preloaded python http.server --------
mkdir -p "$T/www"
printf 'hello from python\n' >"$T/www/hello.txt"
timeout 100 env "${OTEL_ENV[@]}" OTEL_SERVICE_NAME=pyserver LD_PRELOAD="$LIB" \
	"$PYTHON" -u -m http.server --bind 127.0.0.1 --directory "$T/www" 0 \
	>"$T/py.log" 2>&1 &
HPID=$!
track "$HPID"
HPORT=
for ((i = 0; i < 200; i++)); do
	HPORT=$(sed -n 's/^Serving HTTP on .* port \([0-9]*\).*/\1/p' "$T/py.log")
	[ -n "$HPORT" ] && break
	kill -0 "$HPID" 2>/dev/null || break
	sleep 0.05
done
[ -n "$HPORT" ] || { cat "$T/py.log" >&2; fail "python3 -m http.server under the library did not start"; }

out=$(timeout 30 node "$PEER" client "http://127.0.0.1:$HPORT/hello.txt?from=node" \
	--spans "$T/node-client.jsonl" 2>"$T/node-client.err")
rc=$?
[ "$rc" = 0 ] || { cat "$T/node-client.err" >&2; fail "the Node client failed ($rc)"; }
[ "$out" = "$(printf '200\nhello from python')" ] || fail "the Node client got '$out'"
[ -s "$T/node-client.err" ] && { cat "$T/node-client.err" >&2; fail "the Node client wrote to stderr"; }

has_server_span() {
	"$PYTHON" -c 'import json, sys
sys.exit(0 if any(json.loads(l)["resource"].get("service.name") == "pyserver"
                  for l in open(sys.argv[1]) if l.strip()) else 1)' "$RSPANS"
}
for ((i = 0; i < 100; i++)); do
	has_server_span && break
	sleep 0.1
done
has_server_span || { cat "$T/py.log" >&2; fail "python3 http.server exported no span"; }
settle "$RSPANS"
grep -q '"GET /hello.txt?from=node HTTP/1.1" 200' "$T/py.log" ||
	{ cat "$T/py.log" >&2; fail "python3 http.server did not log the request as it was sent"; }

check_json "$RSPANS" node="$T/node-client.jsonl" <<'PY'
with open(args["node"]) as f:
    nodes = [json.loads(l) for l in f if l.strip()]
cl = [s for s in nodes if s["kind"] == 3]
assert len(nodes) == 1 and len(cl) == 1, "the Node client wrote one CLIENT span: %s" % show(nodes)
n = cl[0]
assert n["parentSpanId"] == "" and n["traceFlags"] == 1, show(n)

ours = [s for s in rows if s["resource"].get("service.name") == "pyserver"]
assert len(ours) == 1, "python exported %d spans, want exactly one SERVER span: %s" % (len(ours), show(ours))
s = ours[0]
assert s["kind"] == 2 and s["name"] == "GET", "a SERVER span named GET: %s" % show(s)
assert s["traceId"] == n["traceId"], "our SERVER span is in Node's trace: %s vs %s" % (s["traceId"], n["traceId"])
assert s["parentSpanId"] == n["spanId"], "our SERVER span's parent %s is Node's CLIENT span %s" % (s["parentSpanId"], n["spanId"])
assert s["spanId"] not in ("", n["spanId"]) and len(s["spanId"]) == 16, show(s)
assert int(n["startTimeUnixNano"]) <= int(s["startTimeUnixNano"]) + 5000000, "client starts before server (5 ms slack)"
PY
note "(b) Node SDK client -> python3 http.server under the library: our SERVER span is a child of Node's CLIENT span"

# --- (c) Node client -> preloaded Python proxy -> Node server ------------------
spawn_server "the second Node server" "$T/node2.port" "$T/node2-server.log" 15 \
	node "$PEER" server --port-file "$T/node2.port" --spans "$T/node2-server.jsonl" \
	--headers "$T/node2-headers.jsonl" --requests 1 --lifetime 60
N2PID=$SERVER_PID N2PORT=$SERVER_PORT
cat >"$T/proxy.py" <<'PROXY'
import http.server, os, sys, urllib.request
upstream, port_file = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        with urllib.request.urlopen(upstream + self.path, timeout=20) as r:
            body = r.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % s.server_address[1])
os.rename(port_file + ".tmp", port_file)
s.serve_forever()
PROXY
spawn_server "the Python proxy under the library" "$T/proxy.port" "$T/proxy.log" 15 \
	timeout 100 env "${OTEL_ENV[@]}" OTEL_SERVICE_NAME=pyproxy LD_PRELOAD="$LIB" \
	"$PYTHON" "$T/proxy.py" "http://127.0.0.1:$N2PORT" "$T/proxy.port"
out=$(timeout 30 node "$PEER" client "http://127.0.0.1:$SERVER_PORT/via-proxy" \
	--spans "$T/node2-client.jsonl" 2>"$T/node2-client.err")
rc=$?
[ "$rc" = 0 ] || { cat "$T/node2-client.err" "$T/proxy.log" >&2; fail "the Node client through the proxy failed ($rc)"; }
[ "$out" = "$(printf '200\nok')" ] || { cat "$T/proxy.log" >&2; fail "the Node client through the proxy got '$out'"; }
wait "$N2PID" || { cat "$T/node2-server.log" >&2; fail "the second Node server failed"; }
proxy_spans() {
	"$PYTHON" -c 'import json, sys
print(sum(json.loads(l)["resource"].get("service.name") == "pyproxy"
          for l in open(sys.argv[1]) if l.strip()))' "$RSPANS"
}
for ((i = 0; i < 100; i++)); do
	[ "$(proxy_spans)" -ge 2 ] && break
	sleep 0.1
done
settle "$RSPANS"
check_json "$RSPANS" nclient="$T/node2-client.jsonl" nserver="$T/node2-server.jsonl" \
	headers="$T/node2-headers.jsonl" <<'PY'
def load(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]
nc, ns = load(args["nclient"]), load(args["nserver"])
assert len(nc) == 1 and nc[0]["kind"] == 3, "one Node CLIENT span: %s" % show(nc)
assert len(ns) == 1 and ns[0]["kind"] == 2, "one Node SERVER span: %s" % show(ns)
nc, ns = nc[0], ns[0]
ours = [s for s in rows if s["resource"].get("service.name") == "pyproxy"]
srv = [s for s in ours if s["kind"] == 2]
cli = [s for s in ours if s["kind"] == 3]
assert len(ours) == 2 and len(srv) == 1 and len(cli) == 1, \
    "the proxy exported one SERVER and one CLIENT span: %s" % show(ours)
srv, cli = srv[0], cli[0]
assert srv["name"] == "GET" and cli["name"] == "GET", show(ours)
t = nc["traceId"]
assert srv["traceId"] == t and cli["traceId"] == t and ns["traceId"] == t, \
    "one trace: node client %s, our server %s, our client %s, node server %s" % (
        t, srv["traceId"], cli["traceId"], ns["traceId"])
assert srv["parentSpanId"] == nc["spanId"], "our SERVER span's parent is Node's CLIENT span"
assert cli["parentSpanId"] == srv["spanId"], "our CLIENT span (made while serving) is a child of our SERVER span"
assert ns["parentSpanId"] == cli["spanId"], "Node's SERVER span's parent is our CLIENT span"
h = load(args["headers"])
assert len(h) == 1 and h[0]["headers"].get("traceparent") == "00-%s-%s-01" % (t, cli["spanId"]), \
    "the proxy's upstream request carried one traceparent naming our CLIENT span: %s" % show(h)
PY
note "(c) Node client -> Python proxy under the library -> Node server: one trace, four spans, parents linked"
pass
