#!/bin/bash
# The musl build in a musl process: tests/portable/http_get.c built with
# musl-gcc (interpreter /lib/ld-musl-*.so.1), preloaded with build/musl's
# library, makes one GET to tests/support/http_peer.py. The peer must see
# the traceparent right after the request line, and the local OTLP
# receiver the CLIENT span it names, exported by the musl exporter module
# (libcurl, nghttp2, mbedTLS, zlib and protobuf-c built in).
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/support/http_lib.sh"
. "$SRC/tests/portable/portable_lib.sh"
MUSL_LIB=$BUILD/musl/libotelpreload.so
need "$MUSL_LIB" "$BUILD/musl/libotelpreload-exporter.so"
case $(interp "$MUSL_PROG") in
*/ld-musl-*.so.1) ;;
*) fail "$MUSL_PROG is not a musl program (interpreter $(interp "$MUSL_PROG"))" ;;
esac
readelf -d "$MUSL_LIB" | grep -q 'NEEDED.*\[libc\.so\]' || fail "$MUSL_LIB is not linked against musl"

start_receiver
start_peer
LIB=$MUSL_LIB traced musl-get "$MUSL_PROG" 127.0.0.1 "$PPORT" /echo >"$T/out" 2>"$T/err"
[ "$RC" = 0 ] || fail "http_get (musl) failed under the musl build ($RC): $(cat "$T/err")"
[ -s "$T/err" ] && fail "the musl build wrote to the program's stderr: $(cat "$T/err")"
grep -q '^traceparent: 00-' "$T/out" || fail "the peer saw no traceparent: $(cat "$T/out")"
wait_spans "$RSPANS" 1 10 || fail "no span reached the receiver"
settle "$RSPANS"
check_json "$RSPANS" support="$SRC/tests/support" pdir="$PDIR" port="$PPORT" <<'PY'
import sys
sys.path.insert(0, args["support"])
from spancheck import *
spans = spans_of(rows, "musl-get")
reqs = peer_log(args["pdir"])
assert len(spans) == 1 and len(reqs) == 1, (len(spans), len(reqs))
s = spans[0]
named_by(s, injected(reqs[0]["head"]))
assert s["kind"] == CLIENT and s["name"] == "GET", (s["kind"], s["name"])
a = s["attributes"]
port = int(args["port"])
assert a.get("url.full") == "http://127.0.0.1:%d/echo" % port, a
assert a.get("user_agent.original") == "http_get", a
check_status(s, 200)
PY
note "musl: traceparent after the request line names the exported CLIENT span"
pass
