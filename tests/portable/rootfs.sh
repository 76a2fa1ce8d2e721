#!/bin/bash
# The shipped copies export on their own: a glibc program and a musl
# program, each chrooted in a root filesystem that holds only its C library
# (as the runtime package installs it), the program and the volume
# (build/dist at /otelpreload) - no libcurl, no libssl, no protobuf-c, no
# zlib, no /dev, no shell - make a traced GET and export the span to local
# receivers over OTLP/HTTP, over HTTPS (HTTP/2 by ALPN) trusting the CA
# given by OTEL_EXPORTER_OTLP_CERTIFICATE or found at the distribution's
# usual bundle path (Debian/Alpine and RHEL layouts), and over OTLP/gRPC.
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/support/http_lib.sh"
. "$SRC/tests/support/tls_lib.sh"
. "$SRC/tests/support/exporter_lib.sh"
. "$SRC/tests/portable/portable_lib.sh"

make_cert
start_peer
start_receiver
HTTP_EP=$ENDPOINT HTTP_SPANS=$RSPANS
start_receiver --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
HTTPS_EP=https://127.0.0.1:$RPORT HTTPS_SPANS=$RSPANS HTTPS_REQS=$RREQS
start_grpc_receiver
GRPC_EP=$ENDPOINT GRPC_SPANS=$RSPANS

# run LIBC ROOT SERVICE ENDPOINT [NAME=VALUE...]: one traced GET in ROOT,
# exporting to ENDPOINT as SERVICE; the peer must have seen its traceparent.
run() {
	local libc=$1 root=$2 svc=$3 ep=$4 n
	shift 4
	n=$(count_lines "$PDIR/requests.jsonl")
	in_root "$root" LD_PRELOAD="/otelpreload/$libc/libotelpreload.so" OTEL_SERVICE_NAME="$svc" \
		OTEL_EXPORTER_OTLP_ENDPOINT="$ep" OTEL_BSP_SCHEDULE_DELAY=100 "$@" \
		/app/http_get 127.0.0.1 "$PPORT" /echo >"$T/$svc.out" 2>"$T/$svc.err"
	[ "$RC" = 0 ] || fail "$svc: http_get failed in its root ($RC): $(cat "$T/$svc.err")"
	[ -s "$T/$svc.err" ] && fail "$svc: the library wrote to the program's stderr: $(cat "$T/$svc.err")"
	grep -q '^traceparent: 00-' "$T/$svc.out" || fail "$svc: the peer saw no traceparent"
	[ "$(count_lines "$PDIR/requests.jsonl")" = $((n + 1)) ] || fail "$svc: the peer saw no request"
}

# exported FILE SERVICE: the span of SERVICE reached the receiver of FILE,
# named by the traceparent the peer saw.
exported() {
	local i
	for ((i = 0; i < 100; i++)); do
		grep -q "\"service.name\":\"$2\"" "$1" 2>/dev/null && break
		sleep 0.1
	done
	check_json "$1" svc="$2" out="$T/$2.out" support="$SRC/tests/support" <<'PY'
import sys
sys.path.insert(0, args["support"])
from spancheck import *
spans = spans_of(rows, args["svc"])
assert len(spans) == 1, "%s: %d spans" % (args["svc"], len(spans))
head = open(args["out"], newline="").read().split("\r\n\r\n", 1)[1]
named_by(spans[0], injected(head))
check_status(spans[0], 200)
PY
}

for libc in glibc musl; do
	R=$T/root-$libc
	make_root "$R" $libc
	left=$(find "$R" -name 'libcurl*' -o -name 'libssl*' -o -name 'libcrypto*' -o \
		-name 'libprotobuf-c*' -o -name 'libz.so*' -o -name 'libnghttp2*' -o -name 'libmbed*')
	[ -z "$left" ] || fail "the $libc root holds $left"
	note "$libc root: $(cd "$R" && find . -type f ! -path './otelpreload/*' | sort | tr '\n' ' ')"

	run $libc "$R" $libc-http "$HTTP_EP"
	exported "$HTTP_SPANS" $libc-http
	cp "$T/cert.pem" "$R/ca.pem"
	run $libc "$R" $libc-https-ca "$HTTPS_EP" OTEL_EXPORTER_OTLP_CERTIFICATE=/ca.pem
	exported "$HTTPS_SPANS" $libc-https-ca
	if [ $libc = glibc ]; then bundle=/etc/pki/tls/certs/ca-bundle.crt; else bundle=/etc/ssl/certs/ca-certificates.crt; fi
	mkdir -p "$R$(dirname $bundle)"
	cp "$T/cert.pem" "$R$bundle"
	run $libc "$R" $libc-https-system "$HTTPS_EP"
	exported "$HTTPS_SPANS" $libc-https-system
	run $libc "$R" $libc-grpc "$GRPC_EP" OTEL_EXPORTER_OTLP_PROTOCOL=grpc
	exported "$GRPC_SPANS" $libc-grpc
	note "$libc: exported over OTLP/HTTP, HTTPS (CA by variable and at $bundle) and gRPC"
done

check_json "$HTTPS_REQS" <<'PY'
rows = [r for r in rows if r.get("method")]
assert len(rows) == 4, len(rows)
for r in rows:
    assert r.get("tls") and r["httpVersion"] == "2.0", r
PY
note "HTTPS exports were TLS with HTTP/2 (ALPN)"
pass
