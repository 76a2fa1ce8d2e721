#!/bin/bash
# Hostile and malformed HTTP never changes what a traced program sends or
# reads. tests/security/rawpeer.py plays some fifty cases, one connection
# each, in both directions: NULs and bytes >= 0x80 in heads, bare LFs and
# bare CRs, HTTP/0.9 requests and responses without a head, 200-300 kB
# lines, 20,000 headers, heads that never end, invalid, negative,
# conflicting and 2^64-sized Content-Lengths, invalid and overflowing chunk
# sizes, request bodies and tunnels that look like requests, pipelined
# garbage, 2000 interim responses, impossible status codes, more responses
# than requests, a response before the request, NUL floods, a TLS hello.
# Each side records every byte it sent and read.
#  - untraced on both ends: the reference;
#  - client traced: it reads exactly what the peer sent, and the peer gets
#    the client's bytes with at most one traceparent line after a request
#    line (required after the ones that are well formed), nowhere else;
#  - server traced: it reads exactly what the client sent, the client reads
#    exactly what it sent;
#  - both traced;
# every traced side's transcript equals the untraced one's, its stderr is
# empty, it exits 0, and the spans it exports have sane attributes. Then
# real programs against the same bytes, traced and untraced, must see the
# same thing: curl (libcurl's hooks) and Python's http.client (the socket
# engine) against each malformed response, and nginx against each hostile
# request (its answers and access log compared, Date lines aside).
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/support/http_lib.sh"
need "$LIB"
command -v curl >/dev/null || fail "curl is not installed"
start_receiver
RAW=$SRC/tests/security/rawpeer.py
TRANSCRIPT=$SRC/tests/security/transcript.py
"$PYTHON" "$RAW" list --set hostile >"$T/cases.jsonl" || fail "rawpeer.py cannot list its cases"
ncases=$(count_lines "$T/cases.jsonl")
TRACED=(env LD_PRELOAD="$LIB" OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" OTEL_BSP_SCHEDULE_DELAY=100)

# pair NAME CLIENT_TRACED SERVER_TRACED [SET]: one run of every case; the
# transcripts are left in $T/NAME/client and $T/NAME/server.
pair() {
	local name=$1 ctr=$2 str=$3 set=${4:-hostile} senv=(env) cenv=(env) rc
	mkdir -p "$T/$name"
	[ "$str" = 1 ] && senv=("${TRACED[@]}" OTEL_SERVICE_NAME="$name-server")
	[ "$ctr" = 1 ] && cenv=("${TRACED[@]}" OTEL_SERVICE_NAME="$name-client")
	spawn_server "rawpeer server ($name)" "$T/$name/port" "$T/$name/server.err" 10 \
		"${senv[@]}" "$PYTHON" "$RAW" server --set "$set" --port-file "$T/$name/port" \
		--out "$T/$name/server"
	"${cenv[@]}" "$PYTHON" "$RAW" client --set "$set" --port "$SERVER_PORT" \
		--out "$T/$name/client" 2>"$T/$name/client.err"
	rc=$?
	[ "$rc" = 0 ] || { cat "$T/$name/client.err" >&2; fail "$name: the client exited with $rc"; }
	wait "$SERVER_PID"
	rc=$?
	[ "$rc" = 0 ] || { cat "$T/$name/server.err" >&2; fail "$name: the server exited with $rc"; }
	[ -s "$T/$name/client.err" ] && { cat "$T/$name/client.err" >&2; fail "$name: the client wrote to stderr"; }
	[ -s "$T/$name/server.err" ] && { cat "$T/$name/server.err" >&2; fail "$name: the server wrote to stderr"; }
	return 0
}

# sane SERVICE KIND MIN: the service exported at least MIN spans, all of
# kind KIND, with well-formed names and bounded attributes.
sane() {
	check_json "$RSPANS" svc="$1" kind="$2" min="$3" <<'PY'
spans = [s for s in rows if s["resource"]["service.name"] == args["svc"]]
assert len(spans) >= int(args["min"]), "%s: %d spans, at least %s expected" % (args["svc"], len(spans), args["min"])
methods = {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY", "HTTP"}
for s in spans:
    a = s["attributes"]
    assert s["kind"] == int(args["kind"]), (s["name"], s["kind"])
    assert s["name"] in methods, s["name"]
    for k, v in a.items():
        assert not isinstance(v, str) or len(v.encode()) <= 4096, "%s: %d bytes" % (k, len(v.encode()))
    code = a.get("http.response.status_code")
    assert code is None or 100 <= code <= 999, code
print("%s: %d spans" % (args["svc"], len(spans)))
PY
}

pair plain 0 0
"$PYTHON" "$TRANSCRIPT" exact "$T/cases.jsonl" "$T/plain/client" "$T/plain/server" ||
	fail "untraced: the two ends do not agree (a broken test peer)"
note "untraced: $ncases cases, transcripts agree"

pair client 1 0
"$PYTHON" "$TRANSCRIPT" inject "$T/cases.jsonl" "$T/client/client" "$T/client/server" >"$T/client/tp.jsonl" ||
	fail "client traced: the peer did not receive the client's bytes"
"$PYTHON" "$TRANSCRIPT" same "$T/cases.jsonl" "$T/client/client" "$T/plain/client" ||
	fail "client traced: it sent or read other bytes than untraced"
note "client traced: transcript equals the untraced one; $(count_lines "$T/client/tp.jsonl") traceparent lines, each right after a request line"

pair server 0 1
"$PYTHON" "$TRANSCRIPT" exact "$T/cases.jsonl" "$T/server/client" "$T/server/server" ||
	fail "server traced: the two ends do not agree"
"$PYTHON" "$TRANSCRIPT" same "$T/cases.jsonl" "$T/server/server" "$T/plain/server" ||
	fail "server traced: it sent or read other bytes than untraced"
note "server traced: transcript equals the untraced one"

pair both 1 1
"$PYTHON" "$TRANSCRIPT" inject "$T/cases.jsonl" "$T/both/client" "$T/both/server" >"$T/both/tp.jsonl" ||
	fail "both traced: the server did not read the client's bytes"
"$PYTHON" "$TRANSCRIPT" same "$T/cases.jsonl" "$T/both/client" "$T/plain/client" ||
	fail "both traced: the client sent or read other bytes than untraced"
note "both traced: the client's transcript equals the untraced one"

settle "$RSPANS"
note "$(sane client-client 3 20)"
note "$(sane server-server 2 15)"
note "$(sane both-client 3 20)"
note "$(sane both-server 2 15)"
# A traceparent the client sent names a client span, and the server's
# span for that request is its child.
check_json "$RSPANS" tp="$T/both/tp.jsonl" <<'PY'
sent = [json.loads(l) for l in open(args["tp"])]
client = {s["spanId"]: s for s in rows if s["resource"]["service.name"] == "both-client"}
server = [s for s in rows if s["resource"]["service.name"] == "both-server"]
linked = [s for s in server if s.get("parentSpanId") in client]
assert len(linked) >= 15, "server spans parented by the client's: %d" % len(linked)
for s in linked:
    assert s["traceId"] == client[s["parentSpanId"]]["traceId"], s
    assert any(t["spanId"] == s["parentSpanId"] for t in sent), s
PY

# --- real clients against each malformed response ------------------------------
"$PYTHON" "$RAW" list --set hostile-responses >"$T/responses.jsonl"
# serve NAME TRACED: rawpeer answering real clients; sets RP_PORT.
serve() {
	mkdir -p "$T/$1"
	spawn_server "rawpeer server ($1)" "$T/$1/port" "$T/$1/server.err" 10 \
		"$PYTHON" "$RAW" server --set hostile-responses --read-head --port-file "$T/$1/port" \
		--out "$T/$1/server"
	RP_PORT=$SERVER_PORT
}
for mode in plain traced; do
	env=(env)
	[ "$mode" = traced ] && env=("${TRACED[@]}" OTEL_SERVICE_NAME=hclient)
	serve "hclient-$mode"
	"${env[@]}" "$PYTHON" "$SRC/tests/security/hclient.py" "$RP_PORT" "$T/responses.jsonl" \
		>"$T/hclient.$mode.out" 2>"$T/hclient.$mode.err" || fail "http.client ($mode) failed"
	wait "$SERVER_PID"
	[ -s "$T/hclient.$mode.err" ] && { cat "$T/hclient.$mode.err" >&2; fail "http.client ($mode) wrote to stderr"; }

	serve "curl-$mode"
	: >"$T/curl.$mode.out"
	while read -r name; do
		: >"$T/curl.head"
		: >"$T/curl.body"
		"${env[@]}" OTEL_SERVICE_NAME=curl curl --noproxy '*' -sS --max-time 20 -o "$T/curl.body" \
			-D "$T/curl.head" -w '%{http_code}' "http://127.0.0.1:$RP_PORT/$name" \
			>"$T/curl.code" 2>"$T/curl.err"
		echo "$name rc=$? code=$(cat "$T/curl.code") err=$(cat "$T/curl.err")" \
			"head=$(sha256sum <"$T/curl.head") body=$(sha256sum <"$T/curl.body")" >>"$T/curl.$mode.out"
	done < <(sed -n 's/.*"name": "\([^"]*\)".*/\1/p' "$T/responses.jsonl")
	wait "$SERVER_PID"
done
[ "$(count_lines "$T/hclient.plain.out")" = "$(count_lines "$T/responses.jsonl")" ] ||
	fail "http.client did not report every case"
cmp -s "$T/hclient.plain.out" "$T/hclient.traced.out" || {
	diff "$T/hclient.plain.out" "$T/hclient.traced.out" >&2
	fail "http.client saw other responses when traced"
}
note "http.client: $(count_lines "$T/responses.jsonl") malformed responses seen exactly as untraced ($(grep -c '"error"' "$T/hclient.plain.out") of them errors)"
cmp -s "$T/curl.plain.out" "$T/curl.traced.out" || {
	diff "$T/curl.plain.out" "$T/curl.traced.out" >&2
	fail "curl saw other responses when traced"
}
note "curl: the same exit status, output and messages traced ($(grep -vc ' rc=0 ' "$T/curl.plain.out") failures, as untraced)"
settle "$RSPANS"
note "$(sane hclient 3 5)"
note "$(sane curl 3 5)"

# --- nginx against each hostile request -----------------------------------------
"$PYTHON" "$RAW" list --set hostile-requests >"$T/requests.jsonl"
for mode in plain traced; do
	env=(LD_PRELOAD=)
	[ "$mode" = traced ] && env=(OTEL_SERVICE_NAME=nginx OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" OTEL_BSP_SCHEDULE_DELAY=100)
	start_nginx "$T/nginx-$mode" off '
	lingering_close always;
	server {
		listen 127.0.0.1:@PORT@;
		location / { return 200 "ok\n"; }
	}' "${env[@]}"
	"$PYTHON" "$RAW" client --set hostile-requests --whole --port "$NPORT" --out "$T/nginx-$mode/client" \
		2>"$T/nginx-$mode/client.err" || { cat "$T/nginx-$mode/client.err" >&2; fail "rawpeer client against nginx ($mode) failed"; }
	kill "$NPID"
	wait "$NPID"
done
"$PYTHON" - "$T/requests.jsonl" "$T/nginx-plain/client" "$T/nginx-traced/client" <<'PY' || fail "nginx answered otherwise when traced"
import json, re, sys
names = [json.loads(l)["name"] for l in open(sys.argv[1])]
date = re.compile(rb"\r\nDate: [^\r\n]*")
for n in names:
    a, b = (date.sub(b"\r\nDate: -", open("%s/%s.read" % (d, n), "rb").read()) for d in sys.argv[2:4])
    assert a == b, "%s: untraced nginx answered %r, traced %r" % (n, a[:300], b[:300])
PY
cmp -s "$T/nginx-plain/access.log" "$T/nginx-traced/access.log" ||
	fail "nginx's access log differs when traced"
for mode in plain traced; do
	grep -E '\[(alert|emerg|crit)\]' "$T/nginx-$mode/error.log" >&2 && fail "nginx ($mode) logged alerts"
done
settle "$RSPANS"
note "nginx: $(count_lines "$T/requests.jsonl") hostile requests answered exactly as untraced; $(sane nginx 2 5)"
pass
