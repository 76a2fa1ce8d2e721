#!/bin/bash
# One trace across three unmodified programs: curl -> nginx (proxy_pass,
# master and worker processes) -> python3 -m http.server, every one
# preloaded with the shipped library and exporting to the receiver, gives
# exactly four spans linked curl CLIENT -> nginx SERVER -> nginx CLIENT ->
# python SERVER, each with its attributes. Twice: once with nginx told not
# to forward the inbound traceparent, once with nginx's default behaviour,
# which forwards every request header, traceparent included, upstream.
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
chain fwd 8
pass
