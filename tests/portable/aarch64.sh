#!/bin/bash
# The aarch64 copies in aarch64 processes under qemu-user: the glibc copy
# (gcc-aarch64-linux-gnu, symbol ceiling GLIBC_2.17) for a glibc program
# run with the cross glibc as its root, the musl copy (the cross gcc with
# Debian's arm64 musl, portable/musl-cross.sh) for a musl program run with
# that musl as its root. One value, LD_PRELOAD=dist-aarch64/$LIB/
# libotelpreload.so with the literal $LIB, must load the glibc copy from
# lib/aarch64-linux-gnu in the first and the musl copy from $LIB in the
# second; each request carries a traceparent and its span is exported by
# the aarch64 exporter module (libcurl, nghttp2, mbedTLS built in) over
# OTLP/HTTP and over HTTPS.
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/support/http_lib.sh"
. "$SRC/tests/support/tls_lib.sh"
DIST=$BUILD/dist-aarch64
GLIBC_PROG=$BUILD/tests/portable/http_get-aarch64
MUSL_PROG=$BUILD/tests/portable/http_get-aarch64-musl
GLIBC_ROOT=/usr/aarch64-linux-gnu
MUSL_ROOT=$BUILD/musl-aarch64-toolchain/sysroot
need "$DIST" "$GLIBC_PROG" "$MUSL_PROG" "$GLIBC_ROOT/lib/ld-linux-aarch64.so.1" \
	"$MUSL_ROOT/lib/ld-musl-aarch64.so.1"
command -v qemu-aarch64 >/dev/null || fail "qemu-aarch64 is not installed (qemu-user)"
# shellcheck disable=SC2016 # the literal $LIB is the point
VALUE="$DIST/"'$LIB/libotelpreload.so'

# kind FILE: the C library an object of ours was linked against.
kind() {
	case $(readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(libc\.so[^]]*\)\]/\1/p') in
	libc.so.6) echo glibc ;;
	libc.so) echo musl ;;
	*) echo unknown ;;
	esac
}
for e in lib/aarch64-linux-gnu:glibc lib64:glibc lib:glibc glibc:glibc '$LIB:musl' musl:musl; do
	d=${e%%:*} k=${e##*:}
	for f in libotelpreload.so libotelpreload-exporter.so; do
		[ -f "$DIST/$d/$f" ] || fail "dist-aarch64 has no $d/$f"
		[ "$(readelf -h "$DIST/$d/$f" | sed -n 's/^ *Machine: *//p')" = AArch64 ] ||
			fail "dist-aarch64/$d/$f is not an aarch64 object"
		[ "$(kind "$DIST/$d/$f")" = "$k" ] || fail "dist-aarch64/$d/$f is not a $k build"
	done
done
note "dist-aarch64: glibc copies in lib/aarch64-linux-gnu, lib64, lib, glibc; musl in \$LIB, musl"

# a64 ROOT [NAME=VALUE...] PROGRAM ARG...: PROGRAM under qemu-aarch64 with
# ROOT as its root, the variables given to it (not to qemu); status in RC.
a64() {
	local root=$1 env=()
	shift
	while [[ $1 == *=* ]]; do
		env+=(-E "$1")
		shift
	done
	qemu-aarch64 -L "$root" "${env[@]}" "$@"
	RC=$?
}

got=$(a64 "$GLIBC_ROOT" LD_PRELOAD="$VALUE" "$GLIBC_PROG" --maps)
[ "$got" = "$DIST/lib/aarch64-linux-gnu/libotelpreload.so" ] ||
	fail "the aarch64 glibc program loaded '$got' for LD_PRELOAD=$VALUE"
got=$(a64 "$MUSL_ROOT" LD_PRELOAD="$VALUE" "$MUSL_PROG" --maps)
[ "$got" = "$VALUE" ] || fail "the aarch64 musl program loaded '$got' for LD_PRELOAD=$VALUE"
note "LD_PRELOAD=dist-aarch64/\$LIB/libotelpreload.so: glibc -> lib/aarch64-linux-gnu, musl -> \$LIB"

make_cert
start_peer
start_receiver
HTTP_EP=$ENDPOINT HTTP_SPANS=$RSPANS
start_receiver --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
HTTPS_EP=https://127.0.0.1:$RPORT HTTPS_SPANS=$RSPANS

for libc in glibc musl; do
	if [ $libc = glibc ]; then root=$GLIBC_ROOT prog=$GLIBC_PROG; else root=$MUSL_ROOT prog=$MUSL_PROG; fi
	for proto in http https; do
		if [ $proto = http ]; then ep=$HTTP_EP spans=$HTTP_SPANS; else ep=$HTTPS_EP spans=$HTTPS_SPANS; fi
		svc=aarch64-$libc-$proto
		a64 "$root" LD_PRELOAD="$VALUE" OTEL_SERVICE_NAME=$svc OTEL_EXPORTER_OTLP_ENDPOINT="$ep" \
			OTEL_EXPORTER_OTLP_CERTIFICATE="$T/cert.pem" OTEL_BSP_SCHEDULE_DELAY=100 \
			"$prog" 127.0.0.1 "$PPORT" /echo >"$T/$svc.out" 2>"$T/$svc.err"
		[ "$RC" = 0 ] || fail "$svc: http_get failed ($RC): $(cat "$T/$svc.err")"
		[ -s "$T/$svc.err" ] && fail "$svc: the library wrote to stderr: $(cat "$T/$svc.err")"
		for ((i = 0; i < 200; i++)); do
			grep -q "\"service.name\":\"$svc\"" "$spans" 2>/dev/null && break
			sleep 0.1
		done
		check_json "$spans" svc=$svc out="$T/$svc.out" support="$SRC/tests/support" <<'PY'
import sys
sys.path.insert(0, args["support"])
from spancheck import *
spans = spans_of(rows, args["svc"])
assert len(spans) == 1, "%s: %d spans" % (args["svc"], len(spans))
head = open(args["out"], newline="").read().split("\r\n\r\n", 1)[1]
named_by(spans[0], injected(head))
check_status(spans[0], 200)
PY
		note "aarch64 $libc: traced and exported over $proto"
	done
done
pass
