#!/bin/bash
# HTTP server spans in real servers: Python's http.server (a
# ThreadingHTTPServer) and nginx (static files by sendfile, keep-alive),
# preloaded with the shipped library; curl, not preloaded, is the client.
# The traceparent a request carries becomes the SERVER span's parent; the
# attributes follow the HTTP semantic conventions; 5xx is an error, 4xx is
# not; OTELPRELOAD_IGNORE_PATHS and OTELPRELOAD_IGNORE_USER_AGENTS requests
# are answered as usual and create no span.
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/support/http_lib.sh"
need "$LIB"
command -v curl >/dev/null || fail "curl is not installed"
need_nginx
start_receiver
SUPPORT=$SRC/tests/support
mkdir -p "$T/www"
echo hello >"$T/www/hello.txt"
echo ok >"$T/www/healthz"
head -c 1048576 /dev/urandom >"$T/www/big.bin"
IGNORE=(OTELPRELOAD_IGNORE_PATHS=/healthz,/readyz "OTELPRELOAD_IGNORE_USER_AGENTS=kube-probe/*")
TID=4bf92f3577b34da6a3ce929d0e0e4736
PSID=00f067aa0ba902b7
CURL=(curl --noproxy '*' -sS)

# check SERVICE [NAME=VALUE...] <<'PY': check_json with `spans` (that
# service's spans in start order) and spancheck's helpers.
check() {
	local svc=$1
	shift
	{
		echo 'import sys; sys.path.insert(0, args["support"]); from spancheck import *'
		echo 'spans = spans_of(rows, args["svc"])'
		cat
	} | check_json "$RSPANS" svc="$svc" support="$SUPPORT" "$@" || exit 1
}

# --- python3 -m http.server ----------------------------------------------
start_preloaded_http_server pyserver "${IGNORE[@]}"
H=http://127.0.0.1:$HPORT
r1=$("${CURL[@]}" -H "traceparent: 00-$TID-$PSID-01" -A 'otelpreload-test/1.0' \
	-w '%{http_code} %{local_port}' -o "$T/hello.out" "$H/hello.txt?a=1&b=2") ||
	fail "curl to http.server failed"
r2=$("${CURL[@]}" -w '%{http_code}' -o "$T/big.out" "$H/big.bin")
r3=$("${CURL[@]}" -w '%{http_code}' -o /dev/null "$H/missing")
r4=$("${CURL[@]}" -w '%{http_code}' -o /dev/null -X DELETE "$H/hello.txt")
r5=$("${CURL[@]}" -w '%{http_code}' -o /dev/null "$H/healthz")
r6=$("${CURL[@]}" -w '%{http_code}' -o /dev/null "$H/readyz/deep")
r7=$("${CURL[@]}" -w '%{http_code}' -o /dev/null -A kube-probe/1.29 "$H/hello.txt")
r8=$("${CURL[@]}" -w '%{http_code}' -o /dev/null "$H/hello.txt")
[ "$r1 $r2 $r3 $r4 $r5 $r6 $r7 $r8" = "200 ${r1#* } 200 404 501 200 404 200 200" ] ||
	fail "http.server under the library answered: $r1 $r2 $r3 $r4 $r5 $r6 $r7 $r8"
cmp -s "$T/www/hello.txt" "$T/hello.out" && cmp -s "$T/www/big.bin" "$T/big.out" ||
	fail "http.server under the library sent other bytes"
wait_spans "$RSPANS" 5 10 || fail "http.server: fewer than 5 spans exported"
settle "$RSPANS"
check pyserver port="$HPORT" cport="${r1#* }" tid="$TID" psid="$PSID" <<'PY'
paths = [s["attributes"].get("url.path") for s in spans]
assert paths == ["/hello.txt", "/big.bin", "/missing", "/hello.txt", "/hello.txt"], \
    "5 spans (none for /healthz, /readyz/deep, kube-probe): %r" % paths
s = spans[0]
assert s["kind"] == SERVER and s["name"] == "GET", (s["kind"], s["name"])
assert (s["traceId"], s["parentSpanId"]) == (args["tid"], args["psid"]), \
    "parent from the request's traceparent: %s/%s" % (s["traceId"], s["parentSpanId"])
port = int(args["port"])
want = {
    "http.request.method": "GET",
    "url.path": "/hello.txt",
    "url.query": "a=1&b=2",
    "url.scheme": "http",
    "server.address": "127.0.0.1",
    "server.port": port,
    "client.address": "127.0.0.1",
    "network.peer.address": "127.0.0.1",
    "network.peer.port": int(args["cport"]),
    "network.protocol.version": "1.1",
    "user_agent.original": "otelpreload-test/1.0",
}
a = s["attributes"]
for k, v in want.items():
    assert a.get(k) == v, "%s: expected %r, got %r" % (k, v, a.get(k))
assert "url.full" not in a, "url.full is a client attribute"
check_status(s, 200)
for t in spans[1:]:
    assert t["parentSpanId"] == "" and t["traceId"] != args["tid"], "no traceparent: a root span"
    assert "url.query" not in t["attributes"], t["attributes"]
    assert t["attributes"]["user_agent.original"].startswith("curl/"), t["attributes"]
check_status(spans[1], 200)
check_status(spans[2], 404)
check_status(spans[3], 501)
assert spans[3]["name"] == "DELETE", spans[3]["name"]
check_status(spans[4], 200)
big = spans[1]
assert int(big["endTimeUnixNano"]) > int(big["startTimeUnixNano"])
PY
note "http.server: parent from traceparent, attributes, 404 not an error, 501 an error, probes ignored"

# --- nginx: sendfile, keep-alive, HEAD, 304, gzip (chunked), pipelining --
mkdir -p "$T/nginx"
"$PYTHON" -c 'import sys; sys.stdout.write("".join("line %d of a text nginx gzips\n" % i for i in range(5000)))' \
	>"$T/www/text.txt"
start_nginx "$T/nginx" off "
server {
	listen 127.0.0.1:@PORT@;
	root $T/www;
	location = /fail { return 500 \"boom\n\"; }
	location /healthz { return 200 \"ok\n\"; }
	location /gz/ {
		alias $T/www/;
		gzip on;
		gzip_min_length 1;
		gzip_types text/plain;
	}
}" OTEL_SERVICE_NAME=nginx OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" OTEL_BSP_SCHEDULE_DELAY=100 \
	"${IGNORE[@]}"
N=http://127.0.0.1:$NPORT
TID2=0af7651916cd43dd8448eb211c80319c
PSID2=b7ad6b7169203331
"${CURL[@]}" -H "traceparent: 00-$TID2-$PSID2-01" -A 'otelpreload-test/2.0' \
	-w '%{http_code}:%{num_connects}:%{local_port} ' \
	-o "$T/n1.out" "$N/hello.txt?x=1" -o "$T/n2.out" "$N/big.bin" \
	-o /dev/null "$N/missing" -o /dev/null "$N/fail" >"$T/ka.out" || fail "curl to nginx failed"
read -r k1 k2 k3 k4 <"$T/ka.out"
[ "${k1%:*} ${k2%:*} ${k3%:*} ${k4%:*}" = "200:1 200:0 404:0 500:0" ] ||
	fail "nginx under the library answered $(cat "$T/ka.out") (want 200 200 404 500 on one connection)"
cmp -s "$T/www/hello.txt" "$T/n1.out" && cmp -s "$T/www/big.bin" "$T/n2.out" ||
	fail "nginx under the library sent other bytes"
c1=$("${CURL[@]}" -I -w '%{http_code}:%{num_connects} ' -o /dev/null -o /dev/null "$N/hello.txt?head=1" "$N/big.bin?head=2")
c2=$("${CURL[@]}" -z "$T/www/hello.txt" -w '%{http_code}:%{num_connects} ' -o /dev/null -o /dev/null \
	"$N/hello.txt?ims=1" "$N/hello.txt?ims=2")
c3=$("${CURL[@]}" --compressed -w '%{http_code}:%{num_connects} ' -o "$T/gz.out" "$N/gz/text.txt" \
	-o /dev/null "$N/hello.txt?after=gz")
[ "$c1$c2$c3" = "200:1 200:0 304:1 304:0 200:1 200:0 " ] ||
	fail "nginx under the library: HEAD $c1, If-Modified-Since $c2, gzip $c3"
cmp -s "$T/www/text.txt" "$T/gz.out" || fail "the gzipped text came back different"
# Three requests in one write, from a client that is not preloaded.
"$PYTHON" - "$NPORT" >"$T/pipe.out" <<'PY' || fail "pipelined requests to nginx failed"
import re, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
s.sendall(b"GET /hello.txt?p=1 HTTP/1.1\r\nHost: pipe\r\n\r\n"
          b"GET /missing?p=2 HTTP/1.1\r\nHost: pipe\r\n\r\n"
          b"GET /fail?p=3 HTTP/1.1\r\nHost: pipe\r\nConnection: close\r\n\r\n")
got = b""
while True:
    c = s.recv(65536)
    if not c:
        break
    got += c
print(" ".join(c.decode() for c in re.findall(rb"HTTP/1\.1 (\d{3}) ", got)))
PY
[ "$(cat "$T/pipe.out")" = "200 404 500" ] || fail "pipelined answers from nginx: $(cat "$T/pipe.out")"
p1=$("${CURL[@]}" -w '%{http_code}' -o /dev/null "$N/healthz")
p2=$("${CURL[@]}" -w '%{http_code}' -o /dev/null -A kube-probe/1.29 "$N/hello.txt")
p3=$("${CURL[@]}" -w '%{http_code}' -o /dev/null "$N/hello.txt?last")
[ "$p1 $p2 $p3" = "200 200 200" ] || fail "nginx under the library answered $p1 $p2 $p3"
wait_spans "$RSPANS" 19 10 || note "fewer than 14 nginx spans after 10 s"
settle "$RSPANS"
check nginx port="$NPORT" cport="${k1##*:}" tid="$TID2" psid="$PSID2" <<'PY'
want = [("GET", "/hello.txt", "x=1", 200), ("GET", "/big.bin", None, 200), ("GET", "/missing", None, 404),
        ("GET", "/fail", None, 500), ("HEAD", "/hello.txt", "head=1", 200), ("HEAD", "/big.bin", "head=2", 200),
        ("GET", "/hello.txt", "ims=1", 304), ("GET", "/hello.txt", "ims=2", 304),
        ("GET", "/gz/text.txt", None, 200), ("GET", "/hello.txt", "after=gz", 200),
        ("GET", "/hello.txt", "p=1", 200), ("GET", "/missing", "p=2", 404), ("GET", "/fail", "p=3", 500),
        ("GET", "/hello.txt", "last", 200)]
got = [(s["name"], s["attributes"].get("url.path"), s["attributes"].get("url.query"),
        s["attributes"].get("http.response.status_code")) for s in spans]
assert got == want, "one span per request, none for /healthz nor kube-probe:\n got  %r\n want %r" % (got, want)
for s, (method, path, query, code) in zip(spans, want):
    assert s["kind"] == SERVER and s["attributes"]["http.request.method"] == method
    check_status(s, code)
for s in spans[:4]:
    assert (s["traceId"], s["parentSpanId"]) == (args["tid"], args["psid"]), (s["traceId"], s["parentSpanId"])
    assert s["attributes"]["network.peer.port"] == int(args["cport"]), "one keep-alive connection"
    assert s["attributes"]["user_agent.original"] == "otelpreload-test/2.0"
for s in spans[4:]:
    assert s["parentSpanId"] == "" and s["traceId"] != args["tid"], "no traceparent: a root span"
assert len({s["spanId"] for s in spans}) == len(spans), "a span per request"
a = spans[0]["attributes"]
port = int(args["port"])
for k, v in {"url.path": "/hello.txt", "url.query": "x=1", "url.scheme": "http",
             "server.address": "127.0.0.1", "server.port": port, "client.address": "127.0.0.1",
             "network.peer.address": "127.0.0.1", "network.protocol.version": "1.1",
             "http.request.method": "GET"}.items():
    assert a.get(k) == v, "%s: expected %r, got %r" % (k, v, a.get(k))
assert spans[10]["attributes"]["server.address"] == "pipe" and spans[10]["attributes"]["server.port"] == 80
for x, y in zip(spans, spans[1:]):
    assert int(x["endTimeUnixNano"]) <= int(y["startTimeUnixNano"]) or x["attributes"].get("url.query", "").startswith("p="), \
        "a span outlived its response: %r" % x["attributes"]
PY
grep -qx "/hello.txt?x=1 200 tp=00-$TID2-$PSID2-01 ua=otelpreload-test/2.0" "$T/nginx/access.log" ||
	{ cat "$T/nginx/access.log" >&2; fail "nginx read another traceparent than curl sent"; }
note "nginx: keep-alive spans with the inbound parent; sendfile 1 MiB; 404/500; HEAD; 304; gzip chunked; pipelined; probes ignored"
pass
