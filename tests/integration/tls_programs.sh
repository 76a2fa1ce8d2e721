#!/bin/bash
# HTTPS with real programs: the TLS libraries' own read and write calls are
# followed, so a request sent over TLS gets exactly one span in each
# preloaded process and carries the injected traceparent inside the
# encrypted stream; the plain-socket layer, which only sees TLS records,
# stays silent. All certificates are self-signed, made here with openssl.
#
#   curl -k (libcurl + OpenSSL) -> nginx with an ssl listener, both preloaded:
#     one CLIENT span (url.scheme https, every attribute checked), the
#     injected traceparent in nginx's access log names it, and nginx's one
#     SERVER span is its child; a user's own traceparent is left alone and
#     gets no client span; 404 is an error on the client; a refused
#     connection is a CLIENT span with error.type and status ERROR.
#   Python urllib and http.client (the _ssl module, OpenSSL) and wget
#     (GnuTLS) -> tls_peer.py, which records the decrypted request heads:
#     traceparent right after the request line, naming the CLIENT span; two
#     requests on one keep-alive TLS connection give two spans; curl sends
#     exactly one traceparent over TLS; bodies and answers arrive intact.
#   Python http.server wrapped in ssl, preloaded, threading and single:
#     SERVER spans whose parent is the traceparent an unpreloaded curl sent,
#     url.scheme https.
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/support/http_lib.sh"
. "$SRC/tests/support/tls_lib.sh"
need "$LIB"
for tool in curl wget openssl; do
	command -v "$tool" >/dev/null || fail "$tool is not installed (bash scripts/deps.sh installs it)"
done
need_nginx
start_receiver
SUPPORT=$SRC/tests/support
CURL=(curl --noproxy '*' -sS -k)

make_cert

# check SERVICE [NAME=VALUE...] <<'PY': check_json on the spans with
# `spans` (that service's spans, in start order), `reqs` (the records of
# the TLS peer of PDIR, when one runs) and spancheck's helpers at hand.
check() {
	local svc=$1
	shift
	{
		echo 'import sys; sys.path.insert(0, args["support"]); from spancheck import *'
		echo 'spans = spans_of(rows, args["svc"])'
		echo 'reqs = peer_log(args["pdir"]) if args.get("pdir") else []'
		echo 'def attrs_are(s, want):'
		echo '    a = s["attributes"]'
		echo '    for k, v in want.items():'
		echo '        assert a.get(k) == v, "%s: expected %r, got %r (all: %r)" % (k, v, a.get(k), a)'
		cat
	} | check_json "$RSPANS" svc="$svc" support="$SUPPORT" pdir="${PDIR:-}" "$@" || exit 1
}

# service_spans SERVICE: how many spans SERVICE has exported so far.
service_spans() {
	"$PYTHON" - "$RSPANS" "$1" <<'PY'
import json, sys
n = 0
with open(sys.argv[1]) as f:
    for line in f:
        if line.strip() and json.loads(line)["resource"].get("service.name") == sys.argv[2]:
            n += 1
print(n)
PY
}

# wait_service SERVICE N SECONDS: wait until SERVICE has exported N spans,
# then until the receiver's file stops growing.
wait_service() {
	local i
	for ((i = 0; i < $3 * 5; i++)); do
		[ "$(service_spans "$1")" -ge "$2" ] && break
		sleep 0.2
	done
	settle "$RSPANS"
}

# access_line TARGET: nginx's access-log line for request target TARGET
# ("$request_uri $status tp=... ua=..."); nginx writes it as the request
# ends, which may be a moment after the client has its answer.
access_line() {
	local i line
	for ((i = 0; i < 50; i++)); do
		line=$(awk -v t="$1" '$1 == t { print; exit }' "$T/nginx/access.log" 2>/dev/null)
		[ -n "$line" ] && { printf '%s\n' "$line"; return 0; }
		sleep 0.1
	done
	cat "$T/nginx/access.log" >&2 2>/dev/null
	fail "nginx logged no request $1"
}

# start_tls_server NAME [--single]: tests/support/tls_server.py (Python's
# http.server in ssl) serving $T/www, preloaded and exporting as NAME; sets
# SPORT.
start_tls_server() {
	local name=$1 n=$((++OP_PEERS))
	shift
	spawn_server "tls_server.py under the library" "$T/tlsserver.$n" "$T/tlsserver.$n.log" 10 \
		env LD_PRELOAD="$LIB" OTEL_SERVICE_NAME="$name" OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" \
		OTEL_BSP_SCHEDULE_DELAY=100 \
		"$PYTHON" -u "$SUPPORT/tls_server.py" --port-file "$T/tlsserver.$n" --dir "$T/www" \
		--cert "$T/cert.pem" --key "$T/key.pem" --lifetime 100 "$@"
	SPORT=$SERVER_PORT
}

mkdir -p "$T/www" "$T/nginx"
echo "hello over tls" >"$T/www/path"
echo "own context" >"$T/www/own"
echo "hello from python" >"$T/www/hello.txt"

# === 1. curl (libcurl + OpenSSL) -> nginx (ssl listener), both preloaded ===
start_nginx "$T/nginx" off "
server {
	listen 127.0.0.1:@PORT@ ssl;
	ssl_certificate $T/cert.pem;
	ssl_certificate_key $T/key.pem;
	root $T/www;
}" OTEL_SERVICE_NAME=nginx-tls OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" OTEL_BSP_SCHEDULE_DELAY=100
N=https://127.0.0.1:$NPORT

traced curl-tls "${CURL[@]}" -w '%{http_code} %{http_version}' -o "$T/path.out" "$N/path?q=1" \
	>"$T/curl-tls.out"
[ "$RC" = 0 ] || fail "curl -k $N/path?q=1 failed under the library ($RC)"
[ "$(cat "$T/curl-tls.out")" = "200 1.1" ] ||
	fail "curl over TLS: expected '200 1.1' (code, HTTP version), got '$(cat "$T/curl-tls.out")'"
cmp -s "$T/www/path" "$T/path.out" || fail "curl over TLS under the library got other bytes: $(head -c 200 "$T/path.out")"
line=$(access_line '/path?q=1') || exit 1
check curl-tls port="$NPORT" log="$line" <<'PY'
assert len(spans) == 1, \
    "exactly one span for one HTTPS request (libcurl's; the socket layer sees only TLS records), got %d: %r" % (
        len(spans), [(s["name"], s["kind"], s["scope"]["name"]) for s in spans])
s = spans[0]
assert s["kind"] == CLIENT and s["name"] == "GET", "CLIENT span named GET, got kind %r name %r" % (s["kind"], s["name"])
assert s["parentSpanId"] == "", "a root span"
port = int(args["port"])
attrs_are(s, {
    "http.request.method": "GET",
    "url.full": "https://127.0.0.1:%d/path?q=1" % port,
    "url.scheme": "https",
    "server.address": "127.0.0.1",
    "server.port": port,
    "network.peer.address": "127.0.0.1",
    "network.peer.port": port,
    "network.protocol.name": "http",
    "network.protocol.version": "1.1",
})
check_status(s, 200)
assert int(s["startTimeUnixNano"]) < int(s["endTimeUnixNano"])
log = args["log"]
m = re.search(r" tp=(\S*)", log)
assert m and m.group(1), "nginx received no traceparent: %r" % log
t = TRACEPARENT.match(m.group(1))
assert t, "nginx received a malformed traceparent: %r" % log
named_by(s, t.groups())
assert log.startswith("/path?q=1 200 "), log
PY
note "curl -k https -> nginx: one CLIENT span with https attributes; the traceparent nginx read names it"

OWN_TID=0af7651916cd43dd8448eb211c80319c
OWN_SID=b7ad6b7169203331
OWN=00-$OWN_TID-$OWN_SID-01
traced curl-own "${CURL[@]}" -o /dev/null -H "traceparent: $OWN" "$N/own"
[ "$RC" = 0 ] || fail "curl -k with its own traceparent failed under the library ($RC)"
line=$(access_line /own) || exit 1
[ "$line" = "/own 200 tp=$OWN ua=${line##* ua=}" ] ||
	fail "the user's traceparent did not reach nginx unchanged: want tp=$OWN, nginx logged: $line"
check curl-own <<'PY'
assert spans == [], "a request with its own traceparent gets no span, got %d: %r" % (
    len(spans), [(s["name"], s["attributes"]) for s in spans])
PY
note "curl -k with its own traceparent: reaches nginx unchanged, no span"

traced curl-404 "${CURL[@]}" -o /dev/null -w '%{http_code}' "$N/missing" >"$T/404.out"
[ "$RC" = 0 ] && [ "$(cat "$T/404.out")" = 404 ] ||
	fail "curl -k $N/missing under the library: exit $RC, code $(cat "$T/404.out") (want 0, 404)"
line=$(access_line /missing) || exit 1
check curl-404 port="$NPORT" log="$line" <<'PY'
assert len(spans) == 1, "one span for the 404, got %d" % len(spans)
s = spans[0]
assert s["kind"] == CLIENT and s["name"] == "GET", (s["kind"], s["name"])
attrs_are(s, {"url.full": "https://127.0.0.1:%s/missing" % args["port"], "url.scheme": "https"})
check_status(s, 404)    # 404, error.type "404", status ERROR
t = TRACEPARENT.match(re.search(r" tp=(\S*)", args["log"]).group(1))
assert t, "no traceparent reached nginx: %r" % args["log"]
named_by(s, t.groups())
PY
note "curl -k 404: status_code 404, error.type 404, status ERROR"

CPORT=$(closed_port)
traced curl-refused "${CURL[@]}" -o /dev/null "https://127.0.0.1:$CPORT/refused" 2>"$T/refused.err"
[ "$RC" = 7 ] || fail "curl -k to a closed port: exit $RC, expected 7 (couldn't connect) as without the library"
check curl-refused <<'PY'
assert len(spans) == 1, "one CLIENT span for a refused connection, got %d" % len(spans)
s = spans[0]
assert s["kind"] == CLIENT, "kind %r" % s["kind"]
e = s["attributes"].get("error.type")
assert isinstance(e, str) and e, "error.type must be a non-empty string, got %r (%r)" % (e, s["attributes"])
assert s["status"]["code"] == ERROR, "status ERROR expected, got %r" % s["status"]
assert "http.response.status_code" not in s["attributes"], s["attributes"]
PY
note "curl -k to a closed port: CLIENT span, error.type set, status ERROR"

# nginx: one SERVER span per request, each the child of what the client sent.
wait_service nginx-tls 3 10
check nginx-tls port="$NPORT" own_tid="$OWN_TID" own_sid="$OWN_SID" <<'PY'
got = [(s["attributes"].get("url.path"), s["attributes"].get("http.response.status_code")) for s in spans]
want = [("/path", 200), ("/own", 200), ("/missing", 404)]
assert got == want, "nginx: exactly one SERVER span per HTTPS request (none from the socket layer):\n got  %r\n want %r" % (got, want)
clients = {}
for name in ("curl-tls", "curl-404"):
    c = spans_of(rows, name)
    assert len(c) == 1, name
    clients[name] = c[0]
port = int(args["port"])
for s, parent in zip(spans, [(clients["curl-tls"]["traceId"], clients["curl-tls"]["spanId"]),
                             (args["own_tid"], args["own_sid"]),
                             (clients["curl-404"]["traceId"], clients["curl-404"]["spanId"])]):
    assert s["kind"] == SERVER and s["name"] == "GET", (s["kind"], s["name"])
    assert (s["traceId"], s["parentSpanId"]) == parent, \
        "%s: nginx's span is %s/parent %s, the client sent %s/%s" % (
            s["attributes"].get("url.path"), s["traceId"], s["parentSpanId"], parent[0], parent[1])
    attrs_are(s, {"url.scheme": "https", "server.port": port, "http.request.method": "GET"})
attrs_are(spans[0], {"url.query": "q=1"})
check_status(spans[0], 200)
check_status(spans[2], 404)   # a 404 is no server error
PY
note "nginx over TLS: one SERVER span per request, url.scheme https, parent = the client's span"

# === 2. Python urllib and http.client (the _ssl module) -> tls_peer.py ===
start_tls_peer
PPORT=$SPORT PDIR=$SDIR # what check and the records below use
P=https://127.0.0.1:$PPORT

# The exact head curl sent over TLS: one traceparent, not one per layer.
traced curl-echo "${CURL[@]}" -o "$T/curl-echo.out" "$P/echo?curl=1"
[ "$RC" = 0 ] || fail "curl -k $P/echo?curl=1 failed under the library ($RC)"
check curl-echo port="$PPORT" out="$T/curl-echo.out" <<'PY'
r = [r for r in reqs if r["target"] == "/echo?curl=1"]
assert len(r) == 1, "the peer saw %d requests for /echo?curl=1" % len(r)
assert open(args["out"], newline="", encoding="latin-1").read() == r[0]["head"], \
    "curl read another head than the peer received (broken bytes?)"
tps = header_values(r[0]["head"], "traceparent")
assert len(tps) == 1, "one traceparent header expected in the decrypted head, got %r:\n%s" % (tps, r[0]["head"])
assert len(spans) == 1, "exactly one span for one curl HTTPS request, got %d" % len(spans)
t = TRACEPARENT.match(tps[0])
assert t, "malformed traceparent %r" % tps[0]
named_by(spans[0], t.groups())
attrs_are(spans[0], {"url.full": "https://127.0.0.1:%s/echo?curl=1" % args["port"], "url.scheme": "https"})
PY
note "curl -k https, the decrypted head: exactly one traceparent, naming curl's one span"

traced py-urllib "$PYTHON" - "$P" >"$T/urllib.out" 2>"$T/urllib.err" <<'PY'
import ssl, sys, urllib.request
ctx = ssl._create_unverified_context()
with urllib.request.urlopen(sys.argv[1] + "/echo?py=1", context=ctx, timeout=20) as r:
    sys.stdout.write(r.read().decode("latin-1"))
PY
[ "$RC" = 0 ] || { cat "$T/urllib.err" >&2; fail "python3 urllib over TLS failed under the library ($RC)"; }
[ -s "$T/urllib.err" ] && { cat "$T/urllib.err" >&2; fail "python3 urllib wrote to stderr"; }
check py-urllib port="$PPORT" out="$T/urllib.out" <<'PY'
r = [r for r in reqs if r["target"] == "/echo?py=1"]
assert len(r) == 1, "the peer saw %d requests for /echo?py=1" % len(r)
assert open(args["out"], newline="", encoding="latin-1").read() == r[0]["head"], \
    "urllib read another head than the peer received (broken bytes?)"
assert len(spans) == 1, "exactly one span for one urllib HTTPS request, got %d: %r" % (
    len(spans), [(s["name"], s["kind"], s["attributes"]) for s in spans])
s = spans[0]
assert s["kind"] == CLIENT and s["name"] == "GET", (s["kind"], s["name"])
port = int(args["port"])
attrs_are(s, {"url.full": "https://127.0.0.1:%d/echo?py=1" % port, "url.scheme": "https",
              "http.request.method": "GET", "server.address": "127.0.0.1", "server.port": port})
check_status(s, 200)
named_by(s, injected(r[0]["head"]))
assert r[0]["head"].split("\r\n")[2].startswith("Accept-Encoding: identity"), \
    "the rest of urllib's head is its own: %r" % r[0]["head"]
PY
note "python urllib https: one CLIENT span; traceparent right after the request line names it"

head -c 100000 /dev/urandom >"$T/body"
traced py-keepalive "$PYTHON" - "$PPORT" "$T/body" >"$T/ka.out" 2>"$T/ka.err" <<'PY'
import http.client, ssl, sys
ctx = ssl._create_unverified_context()
c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[1]), context=ctx, timeout=20)
c.request("GET", "/echo?ka=1")
r = c.getresponse()
head = r.read()
print(r.status, len(head))
with open(sys.argv[2], "rb") as f:
    c.request("POST", "/ka2", body=f.read())
r = c.getresponse()
print(r.status, r.read().decode().strip())
c.close()
PY
[ "$RC" = 0 ] || { cat "$T/ka.err" >&2; fail "python3 http.client keep-alive over TLS failed under the library ($RC)"; }
[ "$(sed -n 2p "$T/ka.out")" = "200 hello from /ka2" ] && [ "$(sed -n 1p "$T/ka.out" | cut -d' ' -f1)" = 200 ] ||
	{ cat "$T/ka.out" "$T/ka.err" >&2; fail "http.client over TLS saw other answers under the library"; }
check py-keepalive port="$PPORT" sha="$(sha256sum <"$T/body" | cut -d' ' -f1)" <<'PY'
r1 = [r for r in reqs if r["target"] == "/echo?ka=1"]
r2 = [r for r in reqs if r["target"] == "/ka2"]
assert len(r1) == 1 and len(r2) == 1, (r1, r2)
r1, r2 = r1[0], r2[0]
assert r1["conn"] == r2["conn"], "http.client sent both requests on one TLS connection"
assert r2["body_len"] == 100000 and r2["body_sha256"] == args["sha"], \
    "the POST body arrived changed: %d bytes, sha %s" % (r2["body_len"], r2["body_sha256"])
assert len(spans) == 2, "two requests on one keep-alive TLS connection -> two spans, got %d" % len(spans)
port = int(args["port"])
for s, r, method, path in ((spans[0], r1, "GET", "/echo?ka=1"), (spans[1], r2, "POST", "/ka2")):
    assert s["kind"] == CLIENT and s["name"] == method, (s["kind"], s["name"], method)
    attrs_are(s, {"url.full": "https://127.0.0.1:%d%s" % (port, path), "url.scheme": "https"})
    check_status(s, 200)
    named_by(s, injected(r["head"]))
assert spans[0]["spanId"] != spans[1]["spanId"]
assert int(spans[0]["endTimeUnixNano"]) <= int(spans[1]["startTimeUnixNano"]), "a span outlived its response"
PY
note "python http.client keep-alive over TLS: 2 requests (GET, POST 100 kB intact) -> 2 spans, each named by its header"

# === 3. wget (GnuTLS) -> tls_peer.py ===
traced wget-tls wget --no-check-certificate -q -O "$T/wget.out" "$P/echo?w=1"
[ "$RC" = 0 ] || fail "wget --no-check-certificate $P/echo?w=1 failed under the library ($RC)"
check wget-tls port="$PPORT" out="$T/wget.out" <<'PY'
r = [r for r in reqs if r["target"] == "/echo?w=1"]
assert len(r) == 1, "the peer saw %d requests for /echo?w=1" % len(r)
assert open(args["out"], newline="", encoding="latin-1").read() == r[0]["head"], \
    "wget saved another head than the peer received (broken bytes?)"
assert len(spans) == 1, "exactly one span for one wget HTTPS request, got %d: %r" % (
    len(spans), [(s["name"], s["kind"], s["attributes"]) for s in spans])
s = spans[0]
assert s["kind"] == CLIENT and s["name"] == "GET", (s["kind"], s["name"])
attrs_are(s, {"url.full": "https://127.0.0.1:%s/echo?w=1" % args["port"], "url.scheme": "https"})
check_status(s, 200)
named_by(s, injected(r[0]["head"]))
PY
note "wget (GnuTLS) https: one CLIENT span; traceparent after the request line names it"

# === 4. Python http.server in ssl, preloaded; curl (not preloaded) sends traceparent ===
TID=4bf92f3577b34da6a3ce929d0e0e4736
PSID=00f067aa0ba902b7
for mode in threading single; do
	svc=pyserver-tls-$mode
	if [ "$mode" = single ]; then start_tls_server "$svc" --single; else start_tls_server "$svc"; fi
	S=https://127.0.0.1:$SPORT
	"${CURL[@]}" -H "traceparent: 00-$TID-$PSID-01" -w '%{http_code}:%{num_connects} ' \
		-o "$T/$mode.out" "$S/hello.txt?m=$mode" -o /dev/null "$S/missing" >"$T/$mode.codes" ||
		fail "curl -k to the preloaded https http.server ($mode) failed"
	[ "$(cat "$T/$mode.codes")" = "200:1 404:0 " ] ||
		fail "https http.server ($mode) under the library answered $(cat "$T/$mode.codes") (want 200 then 404 on one connection)"
	cmp -s "$T/www/hello.txt" "$T/$mode.out" || fail "https http.server ($mode) under the library sent other bytes"
	wait_service "$svc" 2 10
	check "$svc" port="$SPORT" tid="$TID" psid="$PSID" mode="$mode" <<'PY'
got = [(s["attributes"].get("url.path"), s["attributes"].get("http.response.status_code")) for s in spans]
want = [("/hello.txt", 200), ("/missing", 404)]
assert got == want, "%s https server: one SERVER span per request:\n got  %r\n want %r" % (args["mode"], got, want)
port = int(args["port"])
for s in spans:
    assert s["kind"] == SERVER and s["name"] == "GET", (s["kind"], s["name"])
    assert (s["traceId"], s["parentSpanId"]) == (args["tid"], args["psid"]), \
        "parent from the request's traceparent %s/%s, got %s/%s" % (
            args["tid"], args["psid"], s["traceId"], s["parentSpanId"])
    attrs_are(s, {"url.scheme": "https", "server.address": "127.0.0.1", "server.port": port,
                  "http.request.method": "GET", "network.protocol.version": "1.1"})
    assert "url.full" not in s["attributes"], "url.full is a client attribute"
attrs_are(spans[0], {"url.query": "m=" + args["mode"]})
check_status(spans[0], 200)
check_status(spans[1], 404)
PY
	note "python http.server in ssl ($mode): SERVER spans, parent from the sent traceparent, url.scheme https"
done
pass
