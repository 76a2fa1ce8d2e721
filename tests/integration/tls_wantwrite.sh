#!/bin/bash
# OpenSSL's write-retry rule under the library. tests/support/tls_nb_client
# sends one 2 MB "POST /upload" over TLS from a non-blocking socket with a
# 4 KiB send buffer to tests/support/tls_peer.py, which waits 0.5 s
# before reading (and has a 4 KiB receive buffer), so SSL_write fails with
# SSL_ERROR_WANT_WRITE many times and is retried as OpenSSL demands: the
# same pointer and length ("one", and "ex" with SSL_write_ex), advancing by
# partial counts (SSL_MODE_ENABLE_PARTIAL_WRITE, "partial"), from a copy at
# another address (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, "moving", the old
# copy overwritten), head and body in two SSL_write calls ("split"), or
# partial writes of 512-byte records after a 490-byte request line
# ("straddle": the first record ends inside the inserted traceparent line).
# tests/support/gnutls_nb_client does the same upload with GnuTLS's
# gnutls_record_send (head and body in one call, at most one record per
# call, each positive count advancing the data): after GNUTLS_E_AGAIN it
# retries with the same pointer and length ("gnutls-one") or, as GnuTLS
# also allows, with gnutls_record_send(session, NULL, 0) ("gnutls-null").
#
# Each mode runs first without the library, which proves the client and the
# peer right, then with it. Both times:
#   - the client hit WANT_WRITE at least once (the retry path really ran),
#     its SSL_write calls reported exactly the bytes it gave them (and in
#     "partial" mode more than one call returned), and it read the whole
#     response (HTTP/1.1 200 OK), byte for byte as the peer sent it;
#   - without the library the peer received exactly the client's bytes.
# With the library, moreover:
#   - the peer received exactly the client's bytes with one line
#     "traceparent: 00-<trace>-<span>-01" CRLF inserted right after the
#     request line, nothing else changed;
#   - exactly one span was exported: CLIENT, named POST, with the injected
#     trace and span ids, url.full https://127.0.0.1:PORT/upload (with
#     the long query in "straddle"), url.scheme
#     https, server.* and network.peer.* 127.0.0.1:PORT,
#     http.response.status_code 200.
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/support/http_lib.sh"
. "$SRC/tests/support/tls_lib.sh"
CLIENT_BIN=$BUILD/tests/tls_nb_client
GNUTLS_BIN=$BUILD/tests/gnutls_nb_client
need "$LIB" "$CLIENT_BIN" "$GNUTLS_BIN"
SUPPORT=$SRC/tests/support
start_receiver
make_cert
start_tls_peer --first-sleep 0.5 --rcvbuf 4096
PDIR=$SDIR # for wait_conn
CONNS=0

# upload MODE SERVICE|-: one upload, preloaded and exporting as SERVICE
# unless SERVICE is "-"; checks the client's own accounting and the bytes
# on both sides, and leaves the injected ids in $T/MODE.SERVICE/ids.jsonl.
upload() {
	local mode=$1 svc=$2 out=$T/$1.$2 how rc n stats bin=$CLIENT_BIN arg=$1
	mkdir -p "$out"
	case $mode in gnutls-*) bin=$GNUTLS_BIN arg=${mode#gnutls-} ;; esac
	n=$((++CONNS))
	if [ "$svc" = - ]; then
		"$bin" "$arg" 127.0.0.1 "$SPORT" "$out" >"$out/stdout" 2>"$out/stderr"
		how=plain
	else
		LD_PRELOAD="$LIB" OTEL_SERVICE_NAME="$svc" OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" \
			OTEL_BSP_SCHEDULE_DELAY=100 \
			"$bin" "$arg" 127.0.0.1 "$SPORT" "$out" >"$out/stdout" 2>"$out/stderr"
		how=inject
	fi
	rc=$?
	[ "$rc" = 0 ] || { cat "$out/stdout" "$out/stderr" >&2; fail "$mode ($svc): the client failed ($rc)"; }
	[ -s "$out/stderr" ] && { cat "$out/stderr" >&2; fail "$mode ($svc): stderr not empty"; }
	stats=$(head -n 1 "$out/stdout")
	[[ $stats =~ total=([0-9]+)\ written=([0-9]+)\ calls=([0-9]+)\ want_write=([0-9]+) ]] ||
		fail "$mode ($svc): unexpected output: $(cat "$out/stdout")"
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] ||
		fail "$mode ($svc): SSL_write reported ${BASH_REMATCH[2]} bytes written for ${BASH_REMATCH[1]}"
	[ "${BASH_REMATCH[4]}" -gt 0 ] ||
		fail "$mode ($svc): SSL_write never wanted to write: the retry path did not run"
	if [ "$mode" = partial ] || [ "$mode" = straddle ]; then
		[ "${BASH_REMATCH[3]}" -gt 1 ] ||
			fail "$mode ($svc): one SSL_write call took it all: no partial count returned"
	fi
	[ "$(sed -n 2p "$out/stdout")" = "status=HTTP/1.1 200 OK" ] ||
		fail "$mode ($svc): unexpected status: $(cat "$out/stdout")"
	wait_conn "$n"
	"$PYTHON" "$WIRECHECK" "$how" "$out/app.bin" "$SDIR/conn-$n.recv" >"$out/ids.jsonl" ||
		fail "$mode ($svc): the peer did not receive the expected bytes"
	cmp "$out/read.bin" "$SDIR/conn-$n.sent" ||
		fail "$mode ($svc): the client read other bytes than the peer sent"
	note "$mode ($svc): $stats; bytes exact"
}

k=0
for mode in one partial moving ex split straddle gnutls-one gnutls-null; do
	upload "$mode" -
	upload "$mode" "wantwrite-$mode"
	wait_spans "$RSPANS" $((++k)) 5 # the library flushes at exit: no wait when right
	check_json "$RSPANS" support="$SUPPORT" svc="wantwrite-$mode" ids="$T/$mode.wantwrite-$mode/ids.jsonl" \
		port="$SPORT" mode="$mode" <<'PY'
import sys; sys.path.insert(0, args["support"]); from spancheck import *
ids = [json.loads(l) for l in open(args["ids"])]
assert len(ids) == 1 and ids[0]["spanId"], ids
target = ids[0]["target"]
if args["mode"] == "straddle":
    assert target.startswith("/upload?pad=a") and len(target) == 474, target
else:
    assert target == "/upload", target
spans = spans_of(rows, args["svc"])
assert len(spans) == 1, "one span for one request, got %d: %r" % (
    len(spans), [(s["name"], s["kind"], s["attributes"].get("url.full")) for s in spans])
s = spans[0]
assert (s["traceId"], s["spanId"]) == (ids[0]["traceId"], ids[0]["spanId"]), \
    "the injected traceparent 00-%s-%s names another span than %s/%s" % (
        ids[0]["traceId"], ids[0]["spanId"], s["traceId"], s["spanId"])
assert ids[0]["flags"] == "01", ids[0]
assert s["kind"] == CLIENT and s["name"] == "POST", (s["kind"], s["name"])
a = s["attributes"]
port = int(args["port"])
want = {
    "url.full": "https://127.0.0.1:%d%s" % (port, target), "url.scheme": "https",
    "http.request.method": "POST", "server.address": "127.0.0.1", "server.port": port,
    "network.peer.address": "127.0.0.1", "network.peer.port": port,
}
for k, v in want.items():
    assert a.get(k) == v, "%s: expected %r, got %r" % (k, v, a.get(k))
check_status(s, 200)
PY
	note "$mode: one CLIENT span POST, named by the injected traceparent, status 200"
done
pass
