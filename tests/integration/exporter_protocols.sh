#!/bin/bash
# OTLP export in every protocol the exporter speaks, judged by peers we did
# not write: http/protobuf and http/json against tests/support/
# otlp_receiver.mjs (node's http/https/http2 servers, the official
# OpenTelemetry JS protobuf code, OTLP/JSON read with its fromObject()),
# grpc against tests/support/otlp_grpc_receiver.mjs (@grpc/grpc-js, the
# official gRPC server for Node). Each protocol is run plain, gzip'd
# (OTEL_EXPORTER_OTLP_COMPRESSION), over TLS verified with
# OTEL_EXPORTER_OTLP_CERTIFICATE, and over mutual TLS
# (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE/_KEY). In every case:
#  - the spanner's 20 spans arrive exactly once, every field as expected;
#  - a preloaded curl's client span is, field for field, the one that
#    plain http/protobuf delivers (IDs, times and the pid aside), and
#    Span.flags are the same as with http/protobuf;
#  - the request had the protocol's path, Content-Type (application/
#    x-protobuf, application/json, application/grpc with te: trailers),
#    Content-Encoding or grpc-encoding plus the compressed flag, the TLS
#    version, ALPN h2 for gRPC over TLS, the client certificate for mTLS,
#    and the percent-decoded OTEL_EXPORTER_OTLP_HEADERS;
#  - OTLP/JSON bodies have hex IDs, integer enums and lowerCamelCase keys;
#  - the programs print nothing of ours.
# Also: at OTEL_LOG_LEVEL=debug header values are never printed; a server
# certificate that is not trusted, or mTLS without a client certificate,
# delivers nothing, silently, within the export timeout.
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/support/tls_lib.sh"
. "$SRC/tests/support/exporter_lib.sh"
need "$LIB" "$TESTLIB" "$SPANNER"
command -v curl >/dev/null || fail "curl is not installed (bash scripts/deps.sh installs it)"

make_cert
make_client_ca
mkdir -p "$T/www"
echo "hello from the exporter test" >"$T/www/hello.txt"
start_http_server || fail "python3 -m http.server did not start"

HEADERS='x-api-key=s3cr%20et%21,x-tenant=acme%2Cinc'
declare -A EP SP RQ
start_receiver
EP[http.plain]=$ENDPOINT SP[http.plain]=$RSPANS RQ[http.plain]=$RREQS
start_receiver --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
EP[http.tls]=https://127.0.0.1:$RPORT SP[http.tls]=$RSPANS RQ[http.tls]=$RREQS
start_receiver --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" --client-ca "$T/ca.pem"
EP[http.mtls]=https://127.0.0.1:$RPORT SP[http.mtls]=$RSPANS RQ[http.mtls]=$RREQS
start_grpc_receiver
EP[grpc.plain]=$ENDPOINT SP[grpc.plain]=$RSPANS RQ[grpc.plain]=$RREQS
start_grpc_receiver --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
EP[grpc.tls]=$ENDPOINT SP[grpc.tls]=$RSPANS RQ[grpc.tls]=$RREQS
start_grpc_receiver --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" --client-ca "$T/ca.pem"
EP[grpc.mtls]=$ENDPOINT SP[grpc.mtls]=$RSPANS RQ[grpc.mtls]=$RREQS

# exporter_env PROTOCOL MODE: sets ENV (an array for env) and RKEY.
exporter_env() {
	local proto=$1 mode=$2 family=http
	[ "$proto" = grpc ] && family=grpc
	RKEY=$family.${mode/gzip/plain}
	ENV=(OTEL_EXPORTER_OTLP_PROTOCOL="$proto" OTEL_EXPORTER_OTLP_ENDPOINT="${EP[$RKEY]}"
		OTEL_EXPORTER_OTLP_HEADERS="$HEADERS")
	case $mode in
	gzip) ENV+=(OTEL_EXPORTER_OTLP_COMPRESSION=gzip) ;;
	tls) ENV+=(OTEL_EXPORTER_OTLP_CERTIFICATE="$T/cert.pem") ;;
	mtls) ENV+=(OTEL_EXPORTER_OTLP_CERTIFICATE="$T/cert.pem"
		OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE="$T/client.pem"
		OTEL_EXPORTER_OTLP_CLIENT_KEY="$T/client.key") ;;
	esac
}

# run_case PROTOCOL MODE: the spanner and curl under the library, then
# every check on what the receiver got. Leaves $T/NAME.spans, .reqs, .curl.
run_case() {
	local proto=$1 mode=$2 name ms mr t0 t1 pid
	name=${proto//\//-}-$mode
	exporter_env "$proto" "$mode"
	ms=$(mark "${SP[$RKEY]}")
	mr=$(mark "${RQ[$RKEY]}")

	t0=$(date +%s%N)
	env "${ENV[@]}" LD_PRELOAD="$TESTLIB" OTEL_SERVICE_NAME="spanner-$name" \
		"$SPANNER" -n 20 -k 2 -N "$name" -p >"$T/out" 2>"$T/err" || fail "$name: spanner failed"
	t1=$(date +%s%N)
	[ -s "$T/err" ] && { cat "$T/err" >&2; fail "$name: the spanner printed on stderr"; }
	grep -qvE '^(pid|tasks)=' "$T/out" && { cat "$T/out" >&2; fail "$name: unexpected stdout"; }
	pid=$(sed -n 's/^pid=//p' "$T/out")

	env "${ENV[@]}" LD_PRELOAD="$LIB" OTEL_SERVICE_NAME=curl-peer \
		curl -s -o "$T/got.txt" "http://127.0.0.1:$HPORT/hello.txt" >"$T/out" 2>"$T/err" ||
		fail "$name: curl failed"
	silent "$name: curl" "$T/out" "$T/err"
	cmp -s "$T/got.txt" "$T/www/hello.txt" || fail "$name: curl got other bytes"

	since "${SP[$RKEY]}" "$ms" "$T/$name.spans"
	since "${RQ[$RKEY]}" "$mr" "$T/$name.reqs"
	check_json "$T/$name.spans" name="$name" pid="$pid" t0="$t0" t1="$t1" version="$OP_VERSION" <<'PY'
name = args["name"]
mine = [s for s in rows if s["name"] == name + "-main"]
curl = [s for s in rows if s["resource"].get("service.name") == "curl-peer"]
assert len(mine) == 20, "%d spanner spans, expected 20" % len(mine)
assert len(curl) == 1, "%d curl spans, expected 1" % len(curl)
assert len(rows) == 21, "%d spans in all, expected 21" % len(rows)
assert len({s["spanId"] for s in rows}) == 21, "a span arrived twice"
for s in mine:
    assert s["kind"] == 2, s
    assert s["attributes"] == {"test.attr": "value"}, s["attributes"]
    assert s["droppedAttributesCount"] == 0, s
    assert s["status"] == {"code": 0, "message": ""}, s["status"]
    assert s["parentSpanId"] == "", s
    assert len(s["traceId"]) == 32 and int(s["traceId"], 16) != 0, s
    assert len(s["spanId"]) == 16 and int(s["spanId"], 16) != 0, s
    assert int(args["t0"]) <= int(s["startTimeUnixNano"]) <= int(s["endTimeUnixNano"]) <= int(args["t1"]), s
    assert s["scope"] == {"name": "otelpreload", "version": args["version"]}, s["scope"]
    r = s["resource"]
    assert r["service.name"] == "spanner-" + name, r
    assert r["process.pid"] == int(args["pid"]), r
    assert r["process.executable.name"] == "spanner", r
    assert r["telemetry.sdk.version"] == args["version"], r
    assert r.get("telemetry.sdk.name") and r.get("telemetry.sdk.language") and r.get("host.name"), r
assert len({s["traceId"] for s in mine}) == 20
c = curl[0]
assert c["name"] == "GET" and c["kind"] == 3, c
assert c["attributes"]["url.full"].endswith("/hello.txt"), c
assert c["attributes"]["http.response.status_code"] == 200, c
assert c["resource"]["process.executable.name"] == "curl", c
PY
	check_json "$T/$name.reqs" proto="$proto" mode="$mode" <<'PY'
proto, mode = args["proto"], args["mode"]
reqs = [q for q in rows if q.get("seq", 0) > 0]
assert not [q for q in rows if q.get("tlsError")], "TLS handshakes failed"
assert 2 <= len(reqs) <= 4, "%d requests for two programs" % len(reqs)
assert sum(q["spans"] for q in reqs) == 21, "spans in requests: %s" % [q["spans"] for q in reqs]
for q in reqs:
    h = q["headers"]
    assert h.get("x-api-key") == "s3cr et!", "x-api-key: %r" % h.get("x-api-key")
    assert h.get("x-tenant") == "acme,inc", "x-tenant: %r" % h.get("x-tenant")
    assert not q.get("error"), q["error"]
    if proto == "grpc":
        assert q["path"] == "/opentelemetry.proto.collector.trace.v1.TraceService/Export", q["path"]
        assert h[":method"] == "POST", h
        assert h["content-type"] in ("application/grpc", "application/grpc+proto"), h["content-type"]
        assert h.get("te") == "trailers", "te: %r" % h.get("te")
        assert h[":scheme"] == ("http" if mode in ("plain", "gzip") else "https"), h[":scheme"]
        assert q["codeName"] == "OK", q["codeName"]
        if mode == "gzip":
            assert q["grpcEncoding"] == "gzip", "grpc-encoding %r" % q["grpcEncoding"]
            assert q["compressed"] == 1, "compressed flag %r" % q["compressed"]
        else:
            assert q["grpcEncoding"] in ("", "identity"), "grpc-encoding %r" % q["grpcEncoding"]
            assert q["compressed"] == 0, "compressed flag %r" % q["compressed"]
        assert q["messageLength"] + 5 == q["bytes"], "one gRPC message per call: %r" % q
        if mode in ("tls", "mtls"):
            assert q["tls"]["alpn"] == "h2", q["tls"]
    else:
        assert q["method"] == "POST" and q["path"] == "/v1/traces", q
        want = "application/x-protobuf" if proto == "http/protobuf" else "application/json"
        assert q["contentType"] == want, "Content-Type %r" % q["contentType"]
        assert q["encoding"] == ("protobuf" if proto == "http/protobuf" else "json")
        if proto == "http/json":
            assert q["jsonViolations"] == [], q["jsonViolations"]
        assert q["contentEncoding"] == ("gzip" if mode == "gzip" else ""), "Content-Encoding %r" % q["contentEncoding"]
        assert q["status"] == 200, q
    if mode in ("tls", "mtls"):
        assert q["tls"]["protocol"] in ("TLSv1.2", "TLSv1.3"), q["tls"]
    else:
        assert "tls" not in q, q
    if mode == "mtls":
        assert q["tls"].get("clientSubject", {}).get("CN") == "otelpreload-client", q["tls"]
        assert q["tls"]["authorized"] is True, q["tls"]
PY
	# The curl span and every Span.flags, to compare with http/protobuf.
	"$PYTHON" - "$T/$name.spans" "$T/$name.reqs" >"$T/$name.curl" <<'PY' || fail "$name: cannot extract the curl span"
import json, sys
spans = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
reqs = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
flags = {}
for q in reqs:
    flags.update(q.get("spanFlags") or {})
c = [s for s in spans if s["resource"].get("service.name") == "curl-peer"][0]
out = {"curl": dict(c), "flags": sorted({flags.get(s["spanId"], "missing") for s in spans}, key=str)}
for k in ("traceId", "spanId", "startTimeUnixNano", "endTimeUnixNano"):
    out["curl"].pop(k)
out["curl"]["resource"] = {k: v for k, v in c["resource"].items() if k != "process.pid"}
print(json.dumps(out, sort_keys=True))
PY
	cmp -s "$T/$name.curl" "$T/http-protobuf-plain.curl" || {
		diff "$T/http-protobuf-plain.curl" "$T/$name.curl" >&2
		fail "$name: the curl span or the span flags differ from plain http/protobuf's"
	}
	note "$name: 21 spans, $(count_lines "$T/$name.reqs") requests, all fields as sent"
}

for proto in http/protobuf http/json grpc; do
	for mode in plain gzip tls mtls; do
		run_case "$proto" "$mode"
	done
done

# OTEL_LOG_LEVEL=debug says what was exported and never prints a header
# value.
for proto in http/protobuf http/json grpc; do
	exporter_env "$proto" plain
	env "${ENV[@]}" LD_PRELOAD="$TESTLIB" OTEL_LOG_LEVEL=debug "$SPANNER" -n 3 -N debug \
		>"$T/out" 2>"$T/err" || fail "$proto: spanner failed at debug level"
	[ -s "$T/out" ] && fail "$proto: stdout at debug level"
	grep -q 'exported 3 spans' "$T/err" || { cat "$T/err" >&2; fail "$proto: debug output does not say 3 spans were exported"; }
	grep -v '^otelpreload: ' "$T/err" >&2 && fail "$proto: debug lines without the otelpreload: prefix"
	grep -Eiq 's3cr|acme' "$T/err" && { cat "$T/err" >&2; fail "$proto: a header value was printed"; }
	note "$proto at debug level: $(wc -l <"$T/err") lines, no header value"
done

# Nothing arrives, and nothing is printed, when the server cannot be
# trusted or wants a client certificate we do not have; the exit stays
# within the export timeout.
for proto in http/protobuf http/json grpc; do
	for bad in untrusted no-client-cert; do
		if [ "$bad" = untrusted ]; then
			exporter_env "$proto" tls
			ENV=("${ENV[@]/OTEL_EXPORTER_OTLP_CERTIFICATE=*/OTEL_EXPORTER_OTLP_CERTIFICATE=$T/ca.pem}")
		else
			exporter_env "$proto" tls
			ENV=("${ENV[@]/OTEL_EXPORTER_OTLP_ENDPOINT=*/OTEL_EXPORTER_OTLP_ENDPOINT=${EP[${RKEY%.tls}.mtls]}}")
			RKEY=${RKEY%.tls}.mtls
		fi
		ms=$(mark "${SP[$RKEY]}")
		start=$(now_ms)
		env "${ENV[@]}" LD_PRELOAD="$TESTLIB" OTEL_EXPORTER_OTLP_TIMEOUT=3000 \
			OTEL_BSP_EXPORT_TIMEOUT=3000 "$SPANNER" -n 5 -N "$bad" >"$T/out" 2>"$T/err" ||
			fail "$proto $bad: spanner failed"
		took=$(($(now_ms) - start))
		silent "$proto $bad" "$T/out" "$T/err"
		[ "$took" -le 4500 ] || fail "$proto $bad: the exit took $took ms (timeout 3000 ms)"
		[ "$(mark "${SP[$RKEY]}")" = "$ms" ] || fail "$proto $bad: spans were delivered"
		note "$proto $bad: nothing delivered, silent, exit in $took ms"
	done
done
# The attempts were made: each server saw its handshakes fail.
for k in http.tls http.mtls grpc.tls grpc.mtls; do
	grep -q tlsError "${RQ[$k]}" || fail "the $k receiver saw no failed handshake"
done
pass
