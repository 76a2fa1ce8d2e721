#!/bin/bash
# URLs are redacted as the semantic conventions require: in url.full,
# user:password@ becomes REDACTED:REDACTED@ and the values of the query keys
# AWSAccessKeyId, Signature, sig and X-Goog-Signature become REDACTED (the
# keys stay); in a server's url.query the same values are redacted, and a
# proxy request's absolute-form target gives url.path its path alone.
# Traced at OTEL_LOG_LEVEL=debug with the OTLP, console and file exporters:
#  - curl with credentials and a pre-signed query in its URL (libcurl's
#    hooks), and once through a proxy;
#  - Python's urllib with a signed query (the socket engine);
#  - Python's http.client sending an absolute-form target with
#    credentials, and a Host header with userinfo;
#  - the server, tests/security/secret_server.py, traced too.
# The server must receive the URLs unchanged, the spans must hold the
# redacted forms exactly, and no secret may appear in any span, log line or
# file.
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/support/http_lib.sh"
need "$LIB"
command -v curl >/dev/null || fail "curl is not installed"
start_receiver
S=S3CR3T
FILE=$T/file.jsonl
ENV=(env LD_PRELOAD="$LIB" OTEL_LOG_LEVEL=debug OTEL_TRACES_EXPORTER=otlp,console
	OTELPRELOAD_FILE="$FILE" OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" OTEL_BSP_SCHEDULE_DELAY=100)
spawn_server "the server" "$T/server.port" "$T/server.log" 10 "${ENV[@]}" OTEL_SERVICE_NAME=server \
	"$PYTHON" "$SRC/tests/security/secret_server.py" --port-file "$T/server.port" \
	--log "$T/server.jsonl" --cookie not-a-secret
SPID=$SERVER_PID PORT=$SERVER_PORT
H=127.0.0.1:$PORT
Q="color=blue&sig=$S-sig&AWSAccessKeyId=$S-akid&Signature=$S-signature&X-Goog-Signature=$S-goog&Expires=12"
RQ="color=blue&sig=REDACTED&AWSAccessKeyId=REDACTED&Signature=REDACTED&X-Goog-Signature=REDACTED&Expires=12"

"${ENV[@]}" OTEL_SERVICE_NAME=curl curl --noproxy '*' -sS -o /dev/null \
	"http://user:$S-urlpw@$H/curl/path?$Q" 2>"$T/curl.err" || fail "curl failed"
"${ENV[@]}" OTEL_SERVICE_NAME=curl-proxy curl -sS -o /dev/null -x "http://$H" \
	"http://puser:$S-proxypw@svc.invalid/via-proxy?sig=$S-proxysig&a=1" 2>"$T/curl-proxy.err" ||
	fail "curl through a proxy failed"
"${ENV[@]}" OTEL_SERVICE_NAME=python "$PYTHON" - "$PORT" "$S" >"$T/python.out" 2>"$T/python.err" <<'PY' ||
import http.client, sys, urllib.request
port, s = int(sys.argv[1]), sys.argv[2]
with urllib.request.urlopen("http://127.0.0.1:%d/urllib?X-Goog-Signature=%s-py&sig=%s-py2&keep=me" % (port, s, s)) as r:
    assert r.status == 200
c = http.client.HTTPConnection("127.0.0.1", port)
c.request("GET", "http://auser:%s-abspw@127.0.0.1:%d/absolute?Signature=%s-abs&k=v" % (s, port, s))
assert c.getresponse().read() == b"ok\n"
c.putrequest("GET", "/hosted?AWSAccessKeyId=%s-host" % s, skip_host=True)
c.putheader("Host", "huser:%s-hostpw@127.0.0.1:%d" % (s, port))
c.endheaders()
assert c.getresponse().read() == b"ok\n"
PY
	fail "the Python client failed"
wait_spans "$RSPANS" 10 10 || fail "fewer than 10 spans exported"
settle "$RSPANS"
kill "$SPID"
wait "$SPID" 2>/dev/null

# The server got every URL as it was sent.
check_json "$T/server.jsonl" s="$S" q="$Q" <<'PY'
targets = [r["target"] for r in rows]
s = args["s"]
want = ["/curl/path?" + args["q"],
        "http://svc.invalid/via-proxy?sig=%s-proxysig&a=1" % s,
        "/urllib?X-Goog-Signature=%s-py&sig=%s-py2&keep=me" % (s, s),
        "/absolute?Signature=%s-abs&k=v" % s,
        "/hosted?AWSAccessKeyId=%s-host" % s]
for w in want:
    assert any(t == w or t.endswith(w) for t in targets), "the server never got %s: %r" % (w, targets)
hosts = [dict(r["headers"]).get("Host") for r in rows]
assert any(h and h.startswith("huser:%s-hostpw@" % s) for h in hosts), hosts
PY
note "the server received every URL unchanged"

check_json "$RSPANS" port="$PORT" rq="$RQ" <<'PY'
H = "127.0.0.1:" + args["port"]
def spans(svc, kind):
    return [s for s in rows if s["resource"]["service.name"] == svc and s["kind"] == kind]
def one(svc, kind):
    got = spans(svc, kind)
    assert len(got) == 1, "%s: %d spans of kind %d" % (svc, len(got), kind)
    return got[0]["attributes"]
a = one("curl", 3)
assert a["url.full"] == "http://REDACTED:REDACTED@%s/curl/path?%s" % (H, args["rq"]), a["url.full"]
assert a["server.address"] == "127.0.0.1", a
a = one("curl-proxy", 3)
assert a["url.full"] == "http://REDACTED:REDACTED@svc.invalid/via-proxy?sig=REDACTED&a=1", a["url.full"]
py = {s["attributes"]["url.full"] for s in spans("python", 3)}
assert py == {"http://%s/urllib?X-Goog-Signature=REDACTED&sig=REDACTED&keep=me" % H,
              "http://REDACTED:REDACTED@%s/absolute?Signature=REDACTED&k=v" % H,
              "http://REDACTED:REDACTED@%s/hosted?AWSAccessKeyId=REDACTED" % H}, py
hosted = [s["attributes"] for s in spans("python", 3) if "/hosted" in s["attributes"]["url.full"]][0]
assert hosted["server.address"] == "127.0.0.1" and hosted["server.port"] == int(args["port"]), hosted
srv = {s["attributes"]["url.path"]: s["attributes"] for s in spans("server", 2)}
assert set(srv) == {"/curl/path", "/via-proxy", "/urllib", "/absolute", "/hosted"}, sorted(srv)
assert srv["/curl/path"]["url.query"] == args["rq"], srv["/curl/path"]
assert srv["/via-proxy"]["url.query"] == "sig=REDACTED&a=1", srv["/via-proxy"]
assert srv["/urllib"]["url.query"] == "X-Goog-Signature=REDACTED&sig=REDACTED&keep=me", srv["/urllib"]
assert srv["/absolute"]["url.query"] == "Signature=REDACTED&k=v", srv["/absolute"]
assert srv["/hosted"]["url.query"] == "AWSAccessKeyId=REDACTED", srv["/hosted"]
assert srv["/hosted"]["server.address"] == "127.0.0.1", srv["/hosted"]
PY
note "url.full (curl, curl via a proxy, urllib, http.client) and url.path/url.query (server) redacted as the conventions say"

OUTPUTS=("$T/curl.err" "$T/curl-proxy.err" "$T/python.err" "$T/server.log")
for f in "${OUTPUTS[@]}"; do
	grep -q '^otelpreload: ' "$f" || fail "$(basename "$f"): no debug log line"
	grep -q '"url\.' "$f" || fail "$(basename "$f"): no span on the console"
done
[ -s "$FILE" ] || fail "OTELPRELOAD_FILE was not written"
leaks=$(grep -a -n -e "$S" "${OUTPUTS[@]}" "$FILE" "$RSPANS" | cut -c1-300)
[ -z "$leaks" ] || { echo "$leaks" >&2; fail "a secret of a URL was recorded or logged"; }
note "no secret of any URL in $(count_lines "$RSPANS") exported spans, the console, the debug log or the file"
pass
