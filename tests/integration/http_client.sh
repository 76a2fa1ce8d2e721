#!/bin/bash
# HTTP client spans and traceparent injection with real clients: curl and
# Python's urllib and http.client, preloaded with the shipped library,
# against tests/support/http_peer.py, which records the exact bytes it
# receives. The injected traceparent must come right after the request line
# and name the exported CLIENT span; every response framing (Content-Length,
# chunked, close-delimited, HEAD, 100-continue, 204, 304) must end its span
# with the right status, also on keep-alive connections; a connection that
# ends early gives error.type connection_closed or the errno's name; a
# request that carries its own traceparent is left alone and gets no span;
# credentials never reach url.full; an unsampled request still carries its
# context (flags 00); IPv6 works; requests matching OTELPRELOAD_IGNORE_PATHS
# or OTELPRELOAD_IGNORE_USER_AGENTS get no span and no header.
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/support/http_lib.sh"
need "$LIB"
command -v curl >/dev/null || fail "curl is not installed"
start_receiver
start_peer
U=http://127.0.0.1:$PPORT
SUPPORT=$SRC/tests/support

# check SERVICE [NAME=VALUE...] <<'PY': check_json on the spans with
# `spans` (that service's spans, in start order), `reqs` (the peer's
# records) and spancheck's helpers at hand.
check() {
	local svc=$1
	shift
	{
		echo 'import sys; sys.path.insert(0, args["support"]); from spancheck import *'
		echo 'spans = spans_of(rows, args["svc"]); reqs = peer_log(args["pdir"])'
		cat
	} | check_json "$RSPANS" svc="$svc" support="$SUPPORT" pdir="$PDIR" port="$PPORT" "$@" || exit 1
}

# --- one GET: injection, attributes, nothing recorded of other headers ----
traced curl-get curl --noproxy '*' -sS -A 'otelpreload-test/1.0' -H 'X-Secret: hunter2' \
	-u 'alice:s3cret' -o "$T/echo.out" "$U/echo?q=1&r=two"
[ "$RC" = 0 ] || fail "curl GET /echo failed under the library ($RC)"
grep -q '^traceparent: 00-' "$T/echo.out" || fail "the peer saw no traceparent: $(cat "$T/echo.out")"
check curl-get echo="$T/echo.out" <<'PY'
assert len(spans) == 1, "one span for one request, got %d" % len(spans)
s = spans[0]
r = [r for r in reqs if r["target"] == "/echo?q=1&r=two"]
assert len(r) == 1, r
assert open(args["echo"], newline="").read() == r[0]["head"], "curl saw another head than the peer"
named_by(s, injected(r[0]["head"], "curl"))
assert s["kind"] == CLIENT and s["name"] == "GET", (s["kind"], s["name"])
assert s["parentSpanId"] == "", "a root span"
port = int(args["port"])
a = s["attributes"]
want = {
    "http.request.method": "GET",
    "url.full": "http://127.0.0.1:%d/echo?q=1&r=two" % port,
    "server.address": "127.0.0.1",
    "server.port": port,
    "network.peer.address": "127.0.0.1",
    "network.peer.port": port,
    "network.protocol.version": "1.1",
    "user_agent.original": "otelpreload-test/1.0",
}
for k, v in want.items():
    assert a.get(k) == v, "%s: expected %r, got %r" % (k, v, a.get(k))
check_status(s, 200)
no_secret(s, "hunter2", "s3cret", "YWxpY2U6czNjcmV0")
assert int(s["startTimeUnixNano"]) < int(s["endTimeUnixNano"])
# curl is traced at libcurl's API: the header joins curl's list and goes last;
# the rest of the head is curl's own, in its order.
lines = r[0]["head"].split("\r\n")
assert lines[-3].startswith("traceparent: ") and lines[1] == "Host: 127.0.0.1:%d" % port, lines
PY
note "curl GET: traceparent after the request line names the CLIENT span; attributes right"

# --- keep-alive: seven requests, one connection, every framing ----------
paths=(/len /304 /404 /500 /chunked /204 /close)
args=()
for p in "${paths[@]}"; do args+=("$U$p" -o /dev/null); done
traced curl-ka curl --noproxy '*' -sS -w '%{http_code}:%{num_connects} ' "${args[@]}" >"$T/ka.out"
[ "$RC" = 0 ] || fail "curl keep-alive failed under the library ($RC)"
[ "$(cat "$T/ka.out")" = "200:1 304:0 404:0 500:0 200:0 204:0 200:0 " ] ||
	fail "curl keep-alive: unexpected codes or connections: $(cat "$T/ka.out")"
check curl-ka <<'PY'
want = [("/len", 200), ("/304", 304), ("/404", 404), ("/500", 500), ("/chunked", 200),
        ("/204", 204), ("/close", 200)]
assert len(spans) == len(want), "one span per request: %d, got %d" % (len(want), len(spans))
mine = {}
for r in reqs:
    if r["head"].find("User-Agent: curl") > 0 and r["target"] in dict(want):
        mine.setdefault(r["conn"], []).append(r)
conns = [c for c, rs in mine.items() if [x["target"] for x in rs] == [w[0] for w in want]]
assert len(conns) == 1, "all seven requests on one connection: %r" % mine
rs = mine[conns[0]]
for (path, code), s, r in zip(want, spans, rs):
    named_by(s, injected(r["head"], "curl"))
    assert s["name"] == "GET" and s["kind"] == CLIENT
    assert s["attributes"]["url.full"].endswith(path), (path, s["attributes"]["url.full"])
    check_status(s, code)
for a, b in zip(spans, spans[1:]):
    assert int(a["endTimeUnixNano"]) <= int(b["startTimeUnixNano"]), "a span outlived its response"
PY
note "curl keep-alive: 7 requests (length, 304 with Content-Length, 404, 500, chunked, 204, close-delimited) -> 7 spans"

# --- HEAD twice on one connection: the Content-Length of a HEAD answer has no body
traced curl-head curl --noproxy '*' -sS -I -o /dev/null -o /dev/null "$U/h1" "$U/h2"
[ "$RC" = 0 ] || fail "curl -I failed under the library ($RC)"
check curl-head <<'PY'
assert len(spans) == 2, "two HEAD spans, got %d" % len(spans)
rs = [r for r in reqs if r["method"] == "HEAD" and r["target"] in ("/h1", "/h2")]
assert len(rs) == 2 and rs[0]["conn"] == rs[1]["conn"], rs
for s, r in zip(spans, rs):
    assert s["name"] == "HEAD" and s["attributes"]["http.request.method"] == "HEAD"
    named_by(s, injected(r["head"], "curl"))
    check_status(s, 200)
PY
note "curl HEAD x2 on one connection: 2 spans"

# --- POST with Expect: 100-continue: the interim answer does not end the span
head -c 3000 /dev/urandom >"$T/body"
traced curl-post curl --noproxy '*' -sS -o /dev/null -H 'Expect: 100-continue' \
	--data-binary "@$T/body" "$U/post"
[ "$RC" = 0 ] || fail "curl POST failed under the library ($RC)"
check curl-post sha="$(sha256sum <"$T/body" | cut -d' ' -f1)" <<'PY'
assert len(spans) == 1, len(spans)
r = [r for r in reqs if r["target"] == "/post"]
assert len(r) == 1 and r[0]["body_len"] == 3000 and r[0]["body_sha256"] == args["sha"], r
named_by(spans[0], injected(r[0]["head"], "curl"))
assert spans[0]["name"] == "POST"
check_status(spans[0], 200)
PY
note "curl POST with 100-continue: body intact, span status 200"

# --- the connection ends early: truncated body, reset --------------------
traced curl-trunc curl --noproxy '*' -sS -o /dev/null "$U/truncated" 2>/dev/null
[ "$RC" = 18 ] || fail "curl on a truncated body: exit $RC, expected 18 as without the library"
traced curl-reset curl --noproxy '*' -sS -o /dev/null "$U/reset" 2>/dev/null
[ "$RC" = 56 ] || fail "curl on a reset connection: exit $RC, expected 56 as without the library"
traced curl-empty curl --noproxy '*' -sS -o /dev/null "$U/empty" 2>/dev/null
[ "$RC" = 52 ] || fail "curl on an empty reply: exit $RC, expected 52 as without the library"
# curl is traced at libcurl's API: error.type is the transfer's CURLcode.
check curl-trunc <<'PY'
assert len(spans) == 1, len(spans)
a = spans[0]["attributes"]
assert a.get("error.type") == "CURLE_PARTIAL_FILE", a
assert a.get("http.response.status_code", 200) == 200, a
assert spans[0]["status"]["code"] == ERROR, spans[0]["status"]
PY
check curl-reset <<'PY'
assert len(spans) == 1, len(spans)
a = spans[0]["attributes"]
assert a.get("error.type") == "CURLE_RECV_ERROR", a
assert "http.response.status_code" not in a, a
assert spans[0]["status"]["code"] == ERROR, spans[0]["status"]
PY
check curl-empty <<'PY'
assert len(spans) == 1, len(spans)
a = spans[0]["attributes"]
assert a.get("error.type") == "CURLE_GOT_NOTHING" and "http.response.status_code" not in a, a
assert spans[0]["status"]["code"] == ERROR, spans[0]["status"]
PY
note "truncated body, reset, no answer -> error.type CURLE_PARTIAL_FILE, CURLE_RECV_ERROR, CURLE_GOT_NOTHING"

# --- unknown method, HTTP/1.0, a Host header naming another server -------
traced curl-other curl --noproxy '*' -sS -o /dev/null -X FOO "$U/other"
[ "$RC" = 0 ] || fail "curl -X FOO failed ($RC)"
traced curl-10 curl --noproxy '*' -sS -o /dev/null -0 "$U/ten"
[ "$RC" = 0 ] || fail "curl -0 failed ($RC)"
# The socket layer names the server after the Host header (libcurl's names
# it after the URL, the URI origin, as the semantic conventions ask).
traced curl-host "$PYTHON" - "$PPORT" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
c.putrequest("GET", "/vhost", skip_host=True)
c.putheader("Host", "example.test")
c.endheaders()
c.getresponse().read()
PY
[ "$RC" = 0 ] || fail "http.client with Host: example.test failed ($RC)"
traced curl-host-url curl --noproxy '*' -sS -o /dev/null -H 'Host: example.test' "$U/vhost2"
[ "$RC" = 0 ] || fail "curl -H Host failed ($RC)"
check curl-other <<'PY'
assert len(spans) == 1, len(spans)
r = [r for r in reqs if r["target"] == "/other"]
named_by(spans[0], injected(r[0]["head"], "curl"))
assert r[0]["method"] == "FOO", "the method on the wire is the application's"
assert spans[0]["name"] == "HTTP", spans[0]["name"]
assert spans[0]["attributes"]["http.request.method"] == "_OTHER", spans[0]["attributes"]
PY
check curl-10 <<'PY'
assert len(spans) == 1, len(spans)
r = [r for r in reqs if r["target"] == "/ten"]
assert r[0]["version"] == "HTTP/1.0"
named_by(spans[0], injected(r[0]["head"], "curl"))
assert spans[0]["attributes"]["network.protocol.version"] == "1.0", spans[0]["attributes"]
check_status(spans[0], 200)
PY
check curl-host <<'PY'
assert len(spans) == 1, len(spans)
a = spans[0]["attributes"]
assert a["server.address"] == "example.test" and a["server.port"] == 80, a
assert a["network.peer.address"] == "127.0.0.1" and a["network.peer.port"] == int(args["port"]), a
assert a["url.full"] in ("http://example.test/vhost", "http://example.test:80/vhost"), a
PY
check curl-host-url <<'PY'
assert len(spans) == 1, len(spans)
a = spans[0]["attributes"]
assert a["server.address"] == "127.0.0.1" and a["server.port"] == int(args["port"]), a
assert a["url.full"] == "http://127.0.0.1:%s/vhost2" % args["port"], a
PY
note "curl -X FOO -> span HTTP, method _OTHER; -0 -> version 1.0; Host: example.test -> server.address/port from it (socket layer), from the URL (libcurl)"

# --- raw requests: absolute form with credentials, no Host header ------
traced raw "$PYTHON" - "$PPORT" >"$T/raw.out" 2>&1 <<'PY'
import socket, sys
for req in (b"GET http://alice:s3cret@example.test:8080/abs?q=1 HTTP/1.1\r\nHost: example.test:8080\r\n"
            b"Connection: close\r\n\r\n",
            b"GET /nohost HTTP/1.0\r\n\r\n"):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
    s.sendall(req)
    got = b""
    while True:
        c = s.recv(4096)
        if not c:
            break
        got += c
    print(got.split(b"\r\n")[0].decode())
    s.close()
PY
[ "$RC" = 0 ] || { cat "$T/raw.out" >&2; fail "raw requests failed under the library"; }
check raw <<'PY'
assert len(spans) == 2, len(spans)
port = int(args["port"])
a = spans[0]["attributes"]
assert "s3cret" not in a["url.full"] and "alice" not in a["url.full"], "credentials in url.full: %r" % a["url.full"]
assert a["url.full"].endswith("example.test:8080/abs?q=1"), a["url.full"]
assert a["server.address"] == "example.test" and a["server.port"] == 8080, a
no_secret(spans[0], "s3cret")
a = spans[1]["attributes"]
assert a["server.address"] == "127.0.0.1" and a["server.port"] == port, "no Host: the peer: %r" % a
assert a["url.full"] == "http://127.0.0.1:%d/nohost" % port, a
assert a["network.protocol.version"] == "1.0", a
r = [r for r in reqs if r["target"] == "/nohost"]
named_by(spans[1], injected(r[0]["head"]))
PY
note "absolute-form target: credentials redacted from url.full; no Host header: server.* from the peer"

# --- a request with its own traceparent: untouched, no span --------------
OWN=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
traced curl-own curl --noproxy '*' -sS -o "$T/own.out" -H "traceparent: $OWN" "$U/echo?own"
[ "$RC" = 0 ] || fail "curl with its own traceparent failed ($RC)"
check curl-own own="$OWN" out="$T/own.out" <<'PY'
assert spans == [], "a request that has its own traceparent gets no span: %d" % len(spans)
r = [r for r in reqs if r["target"] == "/echo?own"]
assert header_values(r[0]["head"], "traceparent") == [args["own"]], r[0]["head"]
assert open(args["out"], newline="").read() == r[0]["head"]
PY
note "curl with its own traceparent: sent unchanged, no span"

# --- not sampled: the context still travels, flagged 00; no span --------
traced curl-off env OTEL_TRACES_SAMPLER=always_off curl --noproxy '*' -sS -o /dev/null "$U/unsampled"
[ "$RC" = 0 ] || fail "curl with always_off failed under the library ($RC)"
check curl-off <<'PY'
assert spans == [], "always_off exports nothing, got %d" % len(spans)
r = [r for r in reqs if r["target"] == "/unsampled"]
trace, span, flags = injected(r[0]["head"], "curl")
assert flags == "00", "an unsampled context is propagated with flags 00: %r" % r[0]["head"]
PY
note "always_off: traceparent with flags 00, no span"

# --- Python urllib, and http.client on one keep-alive connection ----------
traced urllib "$PYTHON" - "$U" "$OWN" >"$T/py.out" 2>"$T/py.err" <<'PY'
import http.client, sys, urllib.error, urllib.parse, urllib.request
base, own = sys.argv[1], sys.argv[2]
with urllib.request.urlopen(base + "/urllib?x=1", timeout=20) as r:
    print(r.status, r.read().decode().strip())
try:
    urllib.request.urlopen(base + "/500", timeout=20)
except urllib.error.HTTPError as e:
    print(e.code)
req = urllib.request.Request(base + "/echo?urllib-own", headers={"traceparent": own})
with urllib.request.urlopen(req, timeout=20) as r:
    print(r.status)
c = http.client.HTTPConnection(urllib.parse.urlsplit(base).netloc, timeout=20)
for method, path in [("HEAD", "/kh"), ("GET", "/304"), ("GET", "/204"), ("GET", "/chunked"),
                     ("GET", "/404"), ("POST", "/kp")]:
    c.request(method, path, body=b"x=1" if method == "POST" else None)
    r = c.getresponse()
    body = r.read()
    print(method, path, r.status, len(body))
c.close()
PY
[ "$RC" = 0 ] || { cat "$T/py.err" >&2; fail "python3 failed under the library ($RC)"; }
[ -s "$T/py.err" ] && { cat "$T/py.err" >&2; fail "python3 wrote to stderr"; }
printf '%s\n' "200 hello from /urllib" 500 200 "HEAD /kh 200 0" "GET /304 304 0" "GET /204 204 0" \
	"GET /chunked 200 14" "GET /404 404 10" "POST /kp 200 15" | cmp -s - "$T/py.out" ||
	{ cat "$T/py.out" >&2; fail "python3 saw other answers under the library"; }
check urllib <<'PY'
want = [("GET", "/urllib?x=1", 200), ("GET", "/500", 500), ("HEAD", "/kh", 200), ("GET", "/304", 304),
        ("GET", "/204", 204), ("GET", "/chunked", 200), ("GET", "/404", 404), ("POST", "/kp", 200)]
assert len(spans) == len(want), "%d spans (none for the request with its own traceparent), got %d" % (
    len(want), len(spans))
byt = {r["target"]: r for r in reqs}
for (method, target, code), s in zip(want, spans):
    r = byt[target]
    named_by(s, injected(r["head"]))
    assert s["name"] == method and s["kind"] == CLIENT, (s["name"], method)
    if target in ("/urllib?x=1", "/500"):
        assert s["attributes"]["user_agent.original"].startswith("Python-urllib/"), s["attributes"]
    else:
        assert "user_agent.original" not in s["attributes"], "http.client sends no User-Agent"
    check_status(s, code)
assert s["attributes"]["url.full"] == "http://127.0.0.1:%s/kp" % args["port"], s["attributes"]
assert byt["/kh"]["conn"] == byt["/kp"]["conn"], "http.client used one connection"
assert header_values(byt["/echo?urllib-own"]["head"], "traceparent") == [
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"]
PY
note "python urllib + http.client keep-alive: 8 spans, injected ids match, own traceparent untouched"

# --- IPv6 --------------------------------------------------------------
if "$PYTHON" -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
	V4_PDIR=$PDIR V4_PPORT=$PPORT
	start_peer --bind ::1
	traced curl6 curl --noproxy '*' -sS -o /dev/null -g "http://[::1]:$PPORT/six?v=6"
	[ "$RC" = 0 ] || fail "curl to [::1] failed under the library ($RC)"
	check curl6 <<'PY'
assert len(spans) == 1, len(spans)
s = spans[0]
named_by(s, injected(reqs[0]["head"], "curl"))
port = int(args["port"])
a = s["attributes"]
assert a["network.peer.address"] == "::1" and a["network.peer.port"] == port, a
assert a["server.address"] == "::1" and a["server.port"] == port, a
assert a["url.full"] == "http://[::1]:%d/six?v=6" % port, a
check_status(s, 200)
PY
	note "curl over IPv6: span with peer ::1, injected"
	PDIR=$V4_PDIR PPORT=$V4_PPORT
else
	note "no IPv6 loopback on this machine: the ::1 case did not run"
fi
# --- ignored requests: no span, and nothing injected that would name one --
traced curl-ignored env OTELPRELOAD_IGNORE_PATHS=/healthz,/readyz \
	curl --noproxy '*' -sS -o /dev/null -o /dev/null "$U/healthz" "$U/readyz/deep?x=1"
[ "$RC" = 0 ] || fail "curl to ignored paths failed under the library ($RC)"
traced curl-ignored env "OTELPRELOAD_IGNORE_USER_AGENTS=kube-probe/*" \
	curl --noproxy '*' -sS -o /dev/null -A kube-probe/1.29 "$U/probe-ua"
[ "$RC" = 0 ] || fail "curl with an ignored user agent failed under the library ($RC)"
check curl-ignored <<'PY'
assert spans == [], "no span for ignored requests, got %d" % len(spans)
for target in ("/healthz", "/readyz/deep?x=1", "/probe-ua"):
    r = [r for r in reqs if r["target"] == target]
    assert len(r) == 1, target
    assert header_values(r[0]["head"], "traceparent") == [], \
        "%s is ignored, yet went out with a traceparent naming a span never exported: %r" % (
            target, r[0]["head"])
PY
note "OTELPRELOAD_IGNORE_PATHS / _USER_AGENTS on the client: no span, request untouched"
pass
