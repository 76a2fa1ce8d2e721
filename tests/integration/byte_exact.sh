#!/bin/bash
# Byte exactness of header injection. tests/support/bytepeer writes and
# reads HTTP requests in awkward ways (see its variants: a non-blocking
# client with a 4 KiB send buffer against a slow reader, requests split
# across many write() calls, writev() with many tiny iovecs, pipelining,
# chunked answers read in odd pieces, send/sendmsg/sendto with MSG_MORE and
# MSG_NOSIGNAL, recv after MSG_PEEK, recvfrom, recvmsg, readv, and the
# fortified __read_chk family) and checks its own accounting; the peer
# records every byte. Each variant runs without the library, where the peer
# must receive exactly the client's bytes, and with it, where it must
# receive them with one traceparent line after each request line, naming
# the exported span of that request. The client must read exactly what the
# peer sent, both times.
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/support/http_lib.sh"
need "$LIB" "$BUILD/tests/bytepeer" "$BUILD/tests/bytepeer_fortify"
start_receiver
start_peer --slow
SLOW_DIR=$PDIR SLOW_PORT=$PPORT SLOW_CONNS=0
start_peer
FAST_DIR=$PDIR FAST_PORT=$PPORT FAST_CONNS=0

# Expected answers, request by request: METHOD:STATUS.
declare -A WANT=(
	[nonblock]="POST:200"
	[split]="GET:200 POST:200 GET:404"
	[writev]="GET:200 PUT:200 DELETE:500"
	[pipeline]="GET:200 GET:200 GET:500"
	[chunked]="GET:200 GET:200 GET:200"
	[flags]="GET:200 GET:404 GET:304 POST:500 GET:200"
)

for bin in bytepeer bytepeer_fortify; do
	for v in nonblock split writev pipeline chunked flags; do
		for mode in plain inject; do
			out=$T/$bin.$v.$mode
			mkdir -p "$out"
			if [ "$v" = nonblock ]; then
				PDIR=$SLOW_DIR port=$SLOW_PORT n=$((++SLOW_CONNS))
			else
				PDIR=$FAST_DIR port=$FAST_PORT n=$((++FAST_CONNS))
			fi
			svc=$bin-$v
			if [ "$mode" = plain ]; then
				"$BUILD/tests/$bin" "$v" 127.0.0.1 "$port" "$out" >"$out/stdout" 2>"$out/stderr"
			else
				LD_PRELOAD="$LIB" OTEL_SERVICE_NAME=$svc OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" \
					"$BUILD/tests/$bin" "$v" 127.0.0.1 "$port" "$out" >"$out/stdout" 2>"$out/stderr"
			fi
			rc=$?
			[ "$rc" = 0 ] || { cat "$out/stderr" >&2; fail "$bin $v ($mode): client failed ($rc)"; }
			[ -s "$out/stderr" ] && { cat "$out/stderr" >&2; fail "$bin $v ($mode): stderr not empty"; }
			wait_conn "$n"
			"$PYTHON" "$WIRECHECK" "$mode" "$out/app.bin" "$PDIR/conn-$n.recv" >"$out/ids.jsonl" ||
				fail "$bin $v ($mode): the peer did not receive the expected bytes"
			cmp "$out/read.bin" "$PDIR/conn-$n.sent" ||
				fail "$bin $v ($mode): the client read other bytes than the peer sent"
			if [ "$mode" = inject ]; then
				note "$bin $v: checking the spans of service $svc"
				check_json "$RSPANS" svc="$svc" ids="$out/ids.jsonl" want="${WANT[$v]}" <<'PY'
spans = sorted([s for s in rows if s["resource"]["service.name"] == args["svc"]],
               key=lambda s: int(s["startTimeUnixNano"]))
ids = [json.loads(l) for l in open(args["ids"])]
want = [w.split(":") for w in args["want"].split()]
assert len(ids) == len(want), "requests on the wire: %d, expected %d" % (len(ids), len(want))
assert len(spans) == len(want), "one span per request: expected %d, got %d" % (len(want), len(spans))
for i, (s, tp, (method, code)) in enumerate(zip(spans, ids, want)):
    assert (tp["traceId"], tp["spanId"]) == (s["traceId"], s["spanId"]), \
        "request %d: injected %s-%s, span %s-%s" % (i, tp["traceId"], tp["spanId"], s["traceId"], s["spanId"])
    assert tp["flags"] == "01", tp
    assert s["kind"] == 3 and s["name"] == method == tp["method"], (i, s["name"], method)
    a = s["attributes"]
    assert a.get("http.response.status_code") == int(code), (i, code, a)
    assert a.get("error.type") == (code if int(code) >= 400 else None), (i, a)
    assert a["url.full"].endswith(tp["target"]), (i, a["url.full"], tp["target"])
PY
			fi
			note "$bin $v ($mode): $(cat "$out/stdout")"
		done
	done
done
pass
