#!/bin/bash
# Zipkin export (OTEL_TRACES_EXPORTER=zipkin). The encoder's edge cases,
# from tests/unit/zipkin_fixture.c, must pass the strict Zipkin v2 check of
# tests/support/zipkin_v2.mjs and hold exactly the expected fields; that
# check must itself refuse malformed bodies. Then real programs (curl and
# Python's urllib against a preloaded python3 -m http.server, curl over
# IPv6, curl to a closed port) export with OTEL_TRACES_EXPORTER=zipkin,otlp,
# and every span that reaches tests/support/zipkin_receiver.mjs must be the
# Zipkin form of the same span decoded from OTLP by the official JS code:
# IDs, parent links, kinds, times, service names, remote endpoints, tags.
# OTEL_TRACES_EXPORTER=zipkin alone sends nothing over OTLP, and a Zipkin
# endpoint nobody listens on leaves the program silent and quick to exit.
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/support/http_lib.sh"
FIXTURE=$BUILD/tests/zipkin_fixture
need "$LIB" "$FIXTURE"
need_node
command -v curl >/dev/null || fail "curl is not installed"
SUPPORT=$SRC/tests/support
ZR=$SUPPORT/zipkin_receiver.mjs

# start_zipkin: starts zipkin_receiver.mjs and sets ZSPANS (one JSON line
# per span), ZREQS (one per request) and ZURL (its /api/v2/spans).
start_zipkin() {
	ZSPANS=$T/zipkin.jsonl
	ZREQS=$T/zipkin-requests.jsonl
	spawn_server "the Zipkin receiver" "$T/zport" "$T/zipkin.log" 15 \
		node "$ZR" --port-file "$T/zport" --out "$ZSPANS" --requests "$ZREQS" --lifetime 110
	ZURL=http://127.0.0.1:$SERVER_PORT/api/v2/spans
	touch "$ZREQS"
}

# post FILE [CONTENT_TYPE]: the receiver's HTTP status for FILE as a body.
post() {
	curl --noproxy '*' -sS -o /dev/null -w '%{http_code}' -H "Content-Type: ${2:-application/json}" \
		--data-binary "@$1" "$ZURL"
}

# --- the encoder alone: edge cases, exactly ------------------------------
"$FIXTURE" "$T/fixed.json" "$T/default.json" "$T/empty.json" "$T/many.json" ||
	fail "zipkin_fixture failed"
for f in fixed default empty many; do
	node "$ZR" --check "$T/$f.json" --out "$T/$f.jsonl" || fail "$f.json is not valid Zipkin v2"
done
[ "$(cat "$T/empty.json")" = "[]" ] || fail "an empty batch is not []: $(cat "$T/empty.json")"
check_json "$T/fixed.jsonl" version="$OP_VERSION" <<'PY'
v = args["version"]
scope = {"otel.scope.name": "otelpreload", "otel.scope.version": v,
         "otel.library.name": "otelpreload", "otel.library.version": v}
resource = {"service.namespace": "shop", "process.pid": "4242", "res.bool": "true",
            "res.double": "0.5"}
local = {"serviceName": "zipkin-fixture"}
def tags(**kw):
    t = dict(scope)
    t.update(resource)
    t["http.request.method"] = "FROM-RESOURCE"
    t.update({k.replace("__", "."): x for k, x in kw.items()})
    return t
want = [
    {"traceId": "0102030405060708090a0b0c0d0e0f10", "id": "a1a2a3a4a5a6a7a8",
     "parentId": "b1b2b3b4b5b6b7b8", "name": "GET", "kind": "CLIENT",
     "timestamp": 1700000000123456, "duration": 864197, "localEndpoint": local,
     "remoteEndpoint": {"serviceName": "api.example", "ipv4": "10.1.2.3", "port": 8443},
     "tags": dict(tags(), **{
         "http.request.method": "GET", "http.response.status_code": "503",
         "int.max": "9223372036854775807", "int.min": "-9223372036854775808",
         "bool.true": "true", "bool.false": "false", "double.value": "3.25",
         "double.tiny": "-1e-300", "double.third": "0.3333333333333333", "double.nan": "NaN",
         "double.inf": "Infinity", "double.ninf": "-Infinity",
         "string.utf8": "caf\u00e9 \u2713", "string.bad": "a\ufffd(",
         "string.escapes": "tab\there \"q\" back\\slash \x01",
         "server.address": "api.example", "server.port": "8443",
         "network.peer.address": "::ffff:10.1.2.3", "network.peer.port": "8443",
         "otel.dropped_attributes_count": "7", "otel.status_code": "ERROR",
         "error": "upstream failed"})},
    {"traceId": "0102030405060708090a0b0c0d0e0f10", "id": "c1c2c3c4c5c6c7c8",
     "parentId": "a1a2a3a4a5a6a7a8", "name": "GET /x", "kind": "SERVER",
     "timestamp": 1700000001000000, "duration": 1, "localEndpoint": local,
     "remoteEndpoint": {"ipv6": "2001:db8::1"},
     "tags": tags(server__address="srv.example", network__peer__address="2001:DB8:0::0:1",
                  network__peer__port="0", client__address="192.0.2.99",
                  otel__status_code="OK")},
    {"traceId": "2122232425262728292a2b2c2d2e2f30", "id": "d1d2d3d4d5d6d7d8",
     "timestamp": 1700000002000000, "duration": 1, "localEndpoint": local,
     "tags": tags(network__peer__address="10.0.0.1")},
    {"traceId": "3132333435363738393a3b3c3d3e3f40", "id": "e1e2e3e4e5e6e7e8",
     "name": "publish", "kind": "PRODUCER", "timestamp": 1700000003000000, "duration": 1,
     "localEndpoint": local, "remoteEndpoint": {"serviceName": "billing"},
     "tags": tags(server__address="mq.example", peer__service="billing",
                  network__peer__address="/run/mq.sock", network__peer__port="5672",
                  otel__status_code="ERROR", error="")},
    {"traceId": "4142434445464748494a4b4c4d4e4f50", "id": "f1f2f3f4f5f6f7f8",
     "name": "receive", "kind": "CONSUMER", "timestamp": 1700000004000000, "duration": 500000,
     "localEndpoint": local, "remoteEndpoint": {"ipv4": "192.0.2.7", "port": 5672},
     "tags": tags(net__sock__peer__addr="192.0.2.7", net__sock__peer__port="5672")},
    {"traceId": "5152535455565758595a5b5c5d5e5f60", "id": "1112131415161718",
     "parentId": "2223242526272829", "name": "caf\ufffd", "kind": "CLIENT",
     "timestamp": 1700000005000000, "duration": 999, "localEndpoint": local,
     "remoteEndpoint": {"ipv6": "fe80::1"},
     "tags": tags(network__peer__address="fe80::1%eth0", network__peer__port="70000")},
    {"traceId": "6162636465666768696a6b6c6d6e6f70", "id": "7172737475767778",
     "name": "GET", "kind": "SERVER", "timestamp": 1700000006000000, "duration": 2,
     "localEndpoint": local, "tags": tags(url__path="/")},
]
assert len(rows) == len(want), "%d spans, expected %d" % (len(rows), len(want))
for got, exp in zip(rows, want):
    for k in sorted(set(got) | set(exp)):
        assert got.get(k) == exp.get(k), "span %s, %s:\n got %r\nwant %r" % (
            exp["id"], k, got.get(k), exp.get(k))
PY
check_json "$T/default.jsonl" <<'PY'
assert len(rows) == 1
assert rows[0]["localEndpoint"] == {"serviceName": "unknown_service:fixture-exe"}, rows[0]
assert rows[0]["tags"]["process.executable.name"] == "fixture-exe", rows[0]["tags"]
PY
check_json "$T/many.jsonl" <<'PY'
assert len(rows) == 1000, len(rows)
assert len({(s["traceId"], s["id"]) for s in rows}) == 1000
for i, s in enumerate(rows):
    assert s["name"] == "span-%d" % i and s["tags"]["index"] == str(i), s
    assert s["timestamp"] == 1700000000000000 + i and s["duration"] == max(1, i), s
PY
note "fixture: 7 edge-case spans exactly as expected, default service name, [] for no span, 1000 spans"

# --- the validator refuses what Zipkin would refuse or misread -----------
start_zipkin
[ "$(post "$T/fixed.json")" = 202 ] || fail "the receiver refused the fixture's valid body"
[ "$(count_lines "$ZSPANS")" = 7 ] || fail "the receiver stored $(count_lines "$ZSPANS") spans, not 7"
ok='"traceId":"0102030405060708090a0b0c0d0e0f10","id":"a1a2a3a4a5a6a7a8"'
n=0
while IFS= read -r body; do
	n=$((n + 1))
	printf '%s' "$body" >"$T/bad.$n.json"
	code=$(post "$T/bad.$n.json")
	[ "$code" = 400 ] || fail "the receiver answered $code, not 400, to $body"
done <<EOF
{$ok}
[{"traceId":"0102030405060708090A0B0C0D0E0F10","id":"a1a2a3a4a5a6a7a8"}]
[{"traceId":"0102030405060708090a0b0c0d0e0f10"}]
[{"traceId":"00000000000000000000000000000000","id":"a1a2a3a4a5a6a7a8"}]
[{$ok,"parentId":"a1a2a3"}]
[{$ok,"parentSpanId":"b1b2b3b4b5b6b7b8"}]
[{$ok,"kind":"INTERNAL"}]
[{$ok,"timestamp":1.7e15}]
[{$ok,"duration":0}]
[{$ok,"duration":"5"}]
[{$ok,"tags":{"http.response.status_code":200}}]
[{$ok,"tags":{"a":"1","a":"2"}}]
[{$ok,"localEndpoint":{}}]
[{$ok,"remoteEndpoint":{"ipv4":"::1"}}]
[{$ok,"remoteEndpoint":{"ipv6":"::ffff:10.0.0.1"}}]
[{$ok,"remoteEndpoint":{"ipv4":"10.0.0.1","port":0}}]
[{$ok,"name":"\udc00"}]
[{$ok}
EOF
printf '[{%s,"name":"caf\xe9"}]' "$ok" >"$T/latin1.json"
[ "$(post "$T/latin1.json")" = 400 ] || fail "the receiver took a body that is not UTF-8"
[ "$(post "$T/fixed.json" text/plain)" = 415 ] || fail "the receiver took a text/plain body"
[ "$(count_lines "$ZSPANS")" = 7 ] || fail "the receiver stored spans from a refused body"
: >"$ZSPANS"
: >"$ZREQS"
note "validator: the fixture accepted (202); $((n + 1)) malformed bodies refused (400), text/plain 415"

# --- real programs, both formats at once ---------------------------------
start_receiver
both=(OTEL_TRACES_EXPORTER=zipkin,otlp OTEL_EXPORTER_ZIPKIN_ENDPOINT="$ZURL")
mkdir -p "$T/www"
echo hello >"$T/www/hello.txt"
start_preloaded_http_server zk-server "${both[@]}" \
	OTEL_RESOURCE_ATTRIBUTES=service.namespace=shop,deployment.environment=zk-test
SPORT=$HPORT
t0=$(date +%s%N)

# zk CURL_SERVICE ARGS...: curl preloaded, exporting both ways.
zk() {
	local svc=$1
	shift
	env LD_PRELOAD="$LIB" OTEL_SERVICE_NAME="$svc" OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" \
		"${both[@]}" "$@"
}
zk zk-curl curl --noproxy '*' -sS -A zk-test/1.0 -o "$T/hello.out" "http://127.0.0.1:$SPORT/hello.txt?x=1" \
	-o /dev/null "http://127.0.0.1:$SPORT/missing" || fail "curl failed under the library"
cmp -s "$T/hello.out" "$T/www/hello.txt" || fail "curl got another body: $(cat "$T/hello.out")"
zk zk-urllib "$PYTHON" -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=20).read().decode().strip())' \
	"http://127.0.0.1:$SPORT/hello.txt" >"$T/urllib.out" || fail "urllib failed under the library"
[ "$(cat "$T/urllib.out")" = hello ] || fail "urllib read $(cat "$T/urllib.out")"
CLOSED=$(closed_port)
zk zk-refused curl --noproxy '*' -sS -o /dev/null "http://127.0.0.1:$CLOSED/" 2>/dev/null
[ $? = 7 ] || fail "curl to a closed port did not exit 7 under the library"
spans=7
if "$PYTHON" -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
	start_http_server ::1 || fail "python3 -m http.server on ::1 did not start"
	zk zk-curl6 curl --noproxy '*' -sS -g -o /dev/null "http://[::1]:$HPORT/" ||
		fail "curl to [::1] failed under the library"
	spans=8
else
	note "no IPv6 loopback on this machine: the ::1 case did not run"
fi
wait_spans "$RSPANS" "$spans" 15 || fail "OTLP: $(count_lines "$RSPANS") spans, expected $spans"
wait_spans "$ZSPANS" "$spans" 15 || fail "Zipkin: $(count_lines "$ZSPANS") spans, expected $spans"
settle "$RSPANS"
settle "$ZSPANS"
t1=$(date +%s%N)

check_json "$ZSPANS" support="$SUPPORT" otlp="$RSPANS" version="$OP_VERSION" n="$spans" \
	sport="$SPORT" t0="$t0" t1="$t1" <<'PY'
import json, sys
sys.path.insert(0, args["support"])
from zipkincheck import check_pair
otlp = [json.loads(l) for l in open(args["otlp"]) if l.strip()]
n, sport = int(args["n"]), int(args["sport"])
assert len(otlp) == n and len(rows) == n, "OTLP %d, Zipkin %d, expected %d" % (len(otlp), len(rows), n)
zk = {z["id"]: z for z in rows}
assert len(zk) == n, "a span ID twice in Zipkin"
# Every span is the Zipkin form of its OTLP twin.
for o in otlp:
    assert o["spanId"] in zk, "span %s (%s) not sent to Zipkin" % (o["spanId"], o["resource"]["service.name"])
    check_pair(zk[o["spanId"]], o, args["version"])
# And what that means for these programs, said directly.
def of(svc):
    return sorted((z for z in rows if z["localEndpoint"]["serviceName"] == svc),
                  key=lambda z: z["timestamp"])
for z in rows:
    assert int(args["t0"]) // 1000 <= z["timestamp"] <= z["timestamp"] + z["duration"] <= int(args["t1"]) // 1000, z
curl, server = of("zk-curl"), of("zk-server")
assert [c["kind"] for c in curl] == ["CLIENT", "CLIENT"] and [c.get("parentId") for c in curl] == [None, None], curl
assert [s["kind"] for s in server] == ["SERVER"] * 3, server
for c, s in zip(curl, server):
    assert (s["traceId"], s["parentId"]) == (c["traceId"], c["id"]), "server span not a child of curl's: %r %r" % (c, s)
    assert c["remoteEndpoint"] == {"serviceName": "127.0.0.1", "ipv4": "127.0.0.1", "port": sport}, c
    r = s["remoteEndpoint"]
    assert set(r) == {"ipv4", "port"} and r["ipv4"] == "127.0.0.1" and r["port"] != sport, r
    assert s["tags"]["service.namespace"] == "shop" and s["tags"]["deployment.environment"] == "zk-test", s["tags"]
    assert "service.name" not in s["tags"], s["tags"]
ok, missing = curl
assert ok["name"] == "GET" and ok["tags"]["http.response.status_code"] == "200", ok
assert ok["tags"]["user_agent.original"] == "zk-test/1.0", ok["tags"]
assert "error" not in ok["tags"] and "otel.status_code" not in ok["tags"], ok["tags"]
assert missing["tags"]["http.response.status_code"] == "404" and missing["tags"]["error.type"] == "404", missing
assert missing["tags"]["otel.status_code"] == "ERROR" and missing["tags"]["error"] == "", missing["tags"]
assert server[1]["tags"]["http.response.status_code"] == "404" and "error" not in server[1]["tags"], \
    "a 404 is no server error"
u = of("zk-urllib")
assert len(u) == 1 and u[0]["kind"] == "CLIENT" and u[0]["id"] == server[2]["parentId"], (u, server[2])
assert u[0]["remoteEndpoint"] == {"serviceName": "127.0.0.1", "ipv4": "127.0.0.1", "port": sport}, u
refused = of("zk-refused")
assert len(refused) == 1 and refused[0]["tags"]["otel.status_code"] == "ERROR", refused
assert refused[0]["tags"]["error.type"] == "CURLE_COULDNT_CONNECT" and refused[0]["tags"]["error"] == "", refused
six = of("zk-curl6")
if n == 8:
    assert len(six) == 1 and six[0]["remoteEndpoint"]["serviceName"] == "::1", six
    assert six[0]["remoteEndpoint"]["ipv6"] == "::1" and "ipv4" not in six[0]["remoteEndpoint"], six
PY
check_json "$ZREQS" <<'PY'
assert rows, "no request reached the Zipkin receiver"
for q in rows:
    assert (q["method"], q["path"], q["status"]) == ("POST", "/api/v2/spans", 202), q
    assert q["contentType"].startswith("application/json"), q
PY
note "$spans spans from curl, urllib and http.server: Zipkin and OTLP agree on every field"

# --- zipkin alone: nothing over OTLP -------------------------------------
base_o=$(count_lines "$RSPANS")
base_z=$(count_lines "$ZSPANS")
env LD_PRELOAD="$LIB" OTEL_SERVICE_NAME=zk-only OTEL_TRACES_EXPORTER=zipkin \
	OTEL_EXPORTER_ZIPKIN_ENDPOINT="$ZURL" OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" \
	curl --noproxy '*' -sS -o /dev/null "http://127.0.0.1:$SPORT/hello.txt" || fail "curl failed"
wait_spans "$ZSPANS" $((base_z + 2)) 10 || fail "OTEL_TRACES_EXPORTER=zipkin: curl's span never came"
settle "$RSPANS"
check_json "$ZSPANS" <<'PY'
assert sum(z["localEndpoint"]["serviceName"] == "zk-only" for z in rows) == 1
PY
check_json "$RSPANS" <<'PY'
assert not [s for s in rows if s["resource"]["service.name"] == "zk-only"], "zipkin alone exported over OTLP"
PY
note "OTEL_TRACES_EXPORTER=zipkin: Zipkin only"

# --- nobody at the Zipkin endpoint: silent, prompt, OTLP unharmed --------
start=$(now_ms)
env LD_PRELOAD="$LIB" OTEL_SERVICE_NAME=zk-down OTEL_TRACES_EXPORTER=zipkin,otlp \
	OTEL_EXPORTER_ZIPKIN_ENDPOINT="http://127.0.0.1:$CLOSED/api/v2/spans" \
	OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" \
	curl --noproxy '*' -sS -o "$T/down.out" "http://127.0.0.1:$SPORT/hello.txt" 2>"$T/down.err"
rc=$?
elapsed=$(($(now_ms) - start))
[ "$rc" = 0 ] || fail "curl exited $rc with the Zipkin endpoint down"
[ -s "$T/down.err" ] && { cat "$T/down.err" >&2; fail "the library wrote to stderr with the Zipkin endpoint down"; }
cmp -s "$T/down.out" "$T/www/hello.txt" || fail "curl got another body with the Zipkin endpoint down"
[ "$elapsed" -lt 3000 ] || fail "curl took ${elapsed} ms to exit with the Zipkin endpoint down"
check_json "$RSPANS" <<'PY'
assert sum(s["resource"]["service.name"] == "zk-down" for s in rows) == 1, "OTLP lost the span"
PY
note "Zipkin endpoint down: exit 0 in ${elapsed} ms, stderr empty, OTLP still got the span"
pass
