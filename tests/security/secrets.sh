#!/bin/bash
# No header value but the user agent is ever recorded or logged. Real
# programs send and receive secrets while traced at OTEL_LOG_LEVEL=debug,
# exporting over OTLP, on the console and to OTELPRELOAD_FILE, with
# OTEL_EXPORTER_OTLP_HEADERS carrying an API key and a bearer token:
#  - curl with Authorization (a bearer token, and -u's Basic), Cookie,
#    X-Api-Key and Proxy-Authorization (-x --proxy-user), through libcurl's
#    hooks;
#  - Python's urllib and http.client with the same headers, through the
#    socket engine;
#  - tests/support/relay_app.py, which OTELPRELOAD_FORWARD_HEADERS makes
#    copy Authorization, Cookie, X-Api-Key and Proxy-Authorization to the
#    request it makes upstream (forwarded on the wire, never recorded);
#  - tests/security/secret_server.py answering every request with a
#    Set-Cookie and a token header;
#  - one more curl exporting to an OTLP endpoint and a Zipkin endpoint with
#    user:password@ in their URLs, and one whose endpoints with
#    credentials are wrong (reported at the default log level).
# First it checks that the secrets did travel (the backend's record of what
# it received, the response headers curl saw, the collector's record of the
# export requests), that the debug logs, the console spans and the file
# were written; then no secret (nor its Basic encoding) may appear in any
# span, any line on stderr, or the file.
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/support/http_lib.sh"
need "$LIB"
command -v curl >/dev/null || fail "curl is not installed"
start_receiver
S=S3CR3T
BASIC=$(printf 'basicuser:%s-basic' "$S" | base64)
PROXY=$(printf 'puser:%s-proxy' "$S" | base64)
FILE=$T/file.jsonl
SECRET_ENV=(env LD_PRELOAD="$LIB" OTEL_LOG_LEVEL=debug OTEL_TRACES_EXPORTER=otlp,console
	OTELPRELOAD_FILE="$FILE" OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" OTEL_BSP_SCHEDULE_DELAY=100
	"OTEL_EXPORTER_OTLP_HEADERS=x-api-key=$S-otlp-apikey,authorization=Bearer%20$S-otlp-authz"
	OTELPRELOAD_FORWARD_HEADERS=x-request-id,authorization,cookie,x-api-key,proxy-authorization)
CURL=(curl --noproxy '*' -sS -A secrets-test)

spawn_server "the secret backend" "$T/backend.port" "$T/backend.log" 10 "${SECRET_ENV[@]}" \
	OTEL_SERVICE_NAME=backend "$PYTHON" "$SRC/tests/security/secret_server.py" \
	--port-file "$T/backend.port" --log "$T/backend.jsonl" --cookie "$S-setcookie"
BPID=$SERVER_PID BPORT=$SERVER_PORT
spawn_server "the relay" "$T/relay.port" "$T/relay.log" 10 "${SECRET_ENV[@]}" OTEL_SERVICE_NAME=relay \
	"$PYTHON" "$SRC/tests/support/relay_app.py" --port-file "$T/relay.port" \
	--upstream "http://127.0.0.1:$BPORT"
RELAY_PID=$SERVER_PID RELAY_PORT=$SERVER_PORT

# curl: headers through the relay, Basic auth and a cookie to the backend,
# and the backend as a proxy with Proxy-Authorization.
"${SECRET_ENV[@]}" OTEL_SERVICE_NAME=curl "${CURL[@]}" -o /dev/null -D "$T/curl1.head" \
	-H "Authorization: Bearer $S-curl-authz" -H "Cookie: sid=$S-curl-cookie" \
	-H "X-Api-Key: $S-curl-apikey" -H "Proxy-Authorization: Basic $S-curl-proxyauth" \
	"http://127.0.0.1:$RELAY_PORT/c1" 2>"$T/curl1.err" || fail "curl through the relay failed"
"${SECRET_ENV[@]}" OTEL_SERVICE_NAME=curl "${CURL[@]}" -o /dev/null -D "$T/curl2.head" \
	-u "basicuser:$S-basic" -b "sid=$S-curl-cookie2" "http://127.0.0.1:$BPORT/c2" \
	2>"$T/curl2.err" || fail "curl to the backend failed"
"${SECRET_ENV[@]}" OTEL_SERVICE_NAME=curl curl -sS -A secrets-test -o /dev/null \
	-x "http://127.0.0.1:$BPORT" --proxy-user "puser:$S-proxy" "http://svc.invalid/c3" \
	2>"$T/curl3.err" || fail "curl through the backend as a proxy failed"

# Python: urllib through the relay, http.client to the backend.
"${SECRET_ENV[@]}" OTEL_SERVICE_NAME=python "$PYTHON" - "$RELAY_PORT" "$BPORT" "$S" \
	>"$T/python.out" 2>"$T/python.err" <<'PY' || fail "the Python client failed"
import http.client, sys, urllib.request
relay, backend, s = sys.argv[1], sys.argv[2], sys.argv[3]
secret = {"Authorization": "Bearer %s-py-authz" % s, "Cookie": "sid=%s-py-cookie" % s,
          "X-Api-Key": "%s-py-apikey" % s, "Proxy-Authorization": "Basic %s-py-proxyauth" % s}
with urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%s/p1" % relay, headers=secret)) as r:
    assert r.status == 200 and r.read() == b"ok\n"
c = http.client.HTTPConnection("127.0.0.1", int(backend))
c.request("GET", "/p2", headers={"Authorization": "Bearer %s-py-authz2" % s, "Cookie": "sid=%s-py-cookie2" % s})
r = c.getresponse()
assert r.status == 200 and r.read() == b"ok\n"
print(r.getheader("Set-Cookie"))
PY

# Credentials in the exporters' own endpoint URLs.
ZPORT=$(closed_port)
"${SECRET_ENV[@]}" OTEL_SERVICE_NAME=endpoint OTEL_TRACES_EXPORTER=otlp,zipkin \
	OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://otlpuser:$S-endpoint-pw@127.0.0.1:$RPORT/v1/traces" \
	OTEL_EXPORTER_ZIPKIN_ENDPOINT="http://zuser:$S-zipkin-pw@127.0.0.1:$ZPORT/api/v2/spans" \
	"${CURL[@]}" -o /dev/null "http://127.0.0.1:$BPORT/e1" 2>"$T/endpoint.err" ||
	fail "curl exporting to endpoints with credentials failed"
# ...and in endpoints that are wrong, which are reported at the default level.
env LD_PRELOAD="$LIB" OTEL_SERVICE_NAME=badendpoint OTEL_TRACES_EXPORTER=otlp,zipkin 	OTEL_EXPORTER_OTLP_ENDPOINT="otlpuser:$S-bad-endpoint@127.0.0.1:$RPORT" 	OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="ftp://otlpuser:$S-bad-traces@127.0.0.1:$RPORT/v1/traces?k=$S-q" 	OTEL_EXPORTER_ZIPKIN_ENDPOINT="zuser:$S-bad-zipkin@127.0.0.1:$ZPORT/api/v2/spans" 	"${CURL[@]}" -o /dev/null "http://127.0.0.1:$BPORT/e2" 2>"$T/badendpoint.err" ||
	fail "curl with wrong endpoints failed"

# Every span is in before the servers stop.
for ((i = 0; i < 100; i++)); do
	[ "$(grep -c '"service.name":"backend"' "$RSPANS")" -ge 6 ] &&
		[ "$(grep -c '"service.name":"relay"' "$RSPANS")" -ge 4 ] && break
	sleep 0.1
done
settle "$RSPANS"
kill "$BPID" "$RELAY_PID"
wait "$BPID" "$RELAY_PID" 2>/dev/null

# --- the secrets did travel -------------------------------------------------------------
check_json "$T/backend.jsonl" s="$S" basic="$BASIC" proxy="$PROXY" <<'PY'
s = args["s"]
got = {r["target"]: {k.lower(): v for k, v in r["headers"]} for r in rows}
for path, who in (("/c1", "curl"), ("/p1", "py")):
    h = got[path]
    assert h.get("authorization") == "Bearer %s-%s-authz" % (s, who), (path, h)
    assert h.get("cookie") == "sid=%s-%s-cookie" % (s, who), (path, h)
    assert h.get("x-api-key") == "%s-%s-apikey" % (s, who), (path, h)
    assert h.get("proxy-authorization") == "Basic %s-%s-proxyauth" % (s, who), (path, h)
assert got["/c2"]["authorization"] == "Basic " + args["basic"], got["/c2"]
assert got["http://svc.invalid/c3"]["proxy-authorization"] == "Basic " + args["proxy"], got
assert got["/p2"]["cookie"] == "sid=%s-py-cookie2" % s
PY
grep -q "^Set-Cookie: session=$S-setcookie" "$T/curl2.head" || fail "the backend's Set-Cookie did not reach curl"
grep -q "session=$S-setcookie" "$T/python.out" || fail "the backend's Set-Cookie did not reach http.client"
check_json "$RREQS" s="$S" <<'PY'
keys = [r["headers"].get("x-api-key") for r in rows]
assert "%s-otlp-apikey" % args["s"] in keys, "OTEL_EXPORTER_OTLP_HEADERS did not reach the collector: %r" % keys
PY
note "the secrets travelled: forwarded by the relay, answered in Set-Cookie, sent to the collector"

OUTPUTS=("$T"/curl?.err "$T/python.err" "$T/endpoint.err" "$T/badendpoint.err" "$T/backend.log" "$T/relay.log")
[ "$(grep -c 'is not an http(s) URL' "$T/badendpoint.err")" = 3 ] || {
	cat "$T/badendpoint.err" >&2
	fail "the wrong endpoints were not reported"
}
for f in "${OUTPUTS[@]}"; do
	[ "$f" = "$T/badendpoint.err" ] && continue
	grep -q '^otelpreload: ' "$f" || fail "$(basename "$f"): no debug log line"
	[ "$f" = "$T/endpoint.err" ] || grep -q '"traceId"' "$f" || fail "$(basename "$f"): no span on the console"
done
grep -q '^otelpreload: otlp: .*endpoint=http://REDACTED:REDACTED@127.0.0.1:' "$T/endpoint.err" ||
	fail "the endpoint is not in the debug log"
grep -q '^otelpreload: zipkin: endpoint=http://REDACTED:REDACTED@127.0.0.1:' "$T/endpoint.err" ||
	fail "the Zipkin endpoint is not in the debug log"
[ -s "$FILE" ] || fail "OTELPRELOAD_FILE was not written"
check_json "$RSPANS" <<'PY'
services = {s["resource"]["service.name"] for s in rows}
assert {"curl", "python", "relay", "backend", "endpoint"} <= services, services
uas = {s["attributes"].get("user_agent.original") for s in rows}
assert "secrets-test" in uas, "the user agent is recorded: %r" % uas
PY
note "debug logs, console spans, the file and the collector all have their output"

# --- ...and none of them shows up anywhere -----------------------------------------
leaks=$(grep -a -n -e "$S" -e "$BASIC" -e "$PROXY" "${OUTPUTS[@]}" "$FILE" "$RSPANS" | cut -c1-300)
[ -z "$leaks" ] || { echo "$leaks" >&2; fail "a secret was recorded or logged"; }
note "$(cat "${OUTPUTS[@]}" | grep -c '^otelpreload: ') debug lines, $(cat "${OUTPUTS[@]}" | grep -c '"traceId"') console spans, $(count_lines "$FILE") file lines, $(count_lines "$RSPANS") exported spans: no secret in any"
pass
