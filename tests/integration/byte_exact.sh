#!/bin/bash
# Byte exactness of header injection. tests/support/bytepeer writes and
# reads HTTP requests in awkward ways (see its variants: a non-blocking
# client with a 4 KiB send buffer against a slow reader, requests split
# across many write() calls, writev() with many tiny iovecs, pipelining,
# chunked answers read in odd pieces, send/sendmsg/sendto with MSG_MORE and
# MSG_NOSIGNAL, recv after MSG_PEEK, recvfrom, recvmsg, readv, and the
# fortified __read_chk family, a body by sendfile(), one connection through
# dup()ed descriptors, a traceparent of the application's own that comes
# after the request line was written, a 12 kB request target, 20 pipelined
# requests) and checks its own accounting; the peer records every byte.
# Each variant runs without the library, where the peer must receive
# exactly the client's bytes, and with it, where it must receive them with
# one traceparent line after each request line, naming the exported span of
# that request (see WANT for the requests where going without one is
# allowed). The client must read exactly what the peer sent, both times.
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/support/http_lib.sh"
need "$LIB" "$BUILD/tests/bytepeer" "$BUILD/tests/bytepeer_fortify"
start_receiver
start_peer --slow
SLOW_DIR=$PDIR SLOW_PORT=$PPORT SLOW_CONNS=0
start_peer
FAST_DIR=$PDIR FAST_PORT=$PPORT FAST_CONNS=0

# Expected answers, request by request: METHOD:STATUS, which must go out
# with one injected traceparent naming its span; METHOD:STATUS? may go out
# without one, and then the span is optional too, but a span that exists
# must carry its own request's status.
p20=
for ((i = 0; i < 20; i++)); do
	case $((i % 4)) in 0 | 3) p20+=" GET:200?" ;; 1) p20+=" GET:404?" ;; 2) p20+=" GET:500?" ;; esac
done
declare -A WANT=(
	[nonblock]="POST:200 GET:404 POST:500"
	[split]="GET:200 POST:200 GET:404"
	[writev]="GET:200 PUT:200 GET:200? DELETE:500"
	[pipeline]="GET:200 GET:200 GET:500"
	[chunked]="GET:200 GET:200 GET:200"
	[flags]="GET:200 GET:404 GET:304 POST:500 GET:200"
	[sendfile]="POST:200 GET:404"
	[dup]="GET:200 GET:500"
	[longline]="GET:200? GET:404?"
	[lateown]="GET:200? GET:404"
	[pipeline20]="$p20"
)
# OP_VARIANTS="a b" runs only those (for debugging).
read -ra VARIANTS <<<"${OP_VARIANTS:-nonblock split writev pipeline chunked flags sendfile dup longline lateown pipeline20}"

for v in "${VARIANTS[@]}"; do
	for bin in bytepeer bytepeer_fortify; do
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
			how=$mode
			[ "$mode" = inject ] && [[ ${WANT[$v]} == *'?'* ]] && how=inject-any
			"$PYTHON" "$WIRECHECK" "$how" "$out/app.bin" "$PDIR/conn-$n.recv" >"$out/ids.jsonl" ||
				fail "$bin $v ($mode): the peer did not receive the expected bytes"
			cmp "$out/read.bin" "$PDIR/conn-$n.sent" ||
				fail "$bin $v ($mode): the client read other bytes than the peer sent"
			note "$bin $v ($mode): bytes exact; $(cat "$out/stdout")"
			if [ "$mode" = inject ]; then
				check_json "$RSPANS" svc="$svc" ids="$out/ids.jsonl" want="${WANT[$v]}" <<'PY'
spans = sorted([s for s in rows if s["resource"]["service.name"] == args["svc"]],
               key=lambda s: int(s["startTimeUnixNano"]))
ids = [json.loads(l) for l in open(args["ids"])]
want = [(w.rstrip("?").split(":") + [w.endswith("?")]) for w in args["want"].split()]
assert len(ids) == len(want), "requests on the wire: %d, expected %d" % (len(ids), len(want))
by_id = {s["spanId"]: s for s in spans}
sent_ids = [tp["spanId"] for tp in ids if tp["spanId"]]
assert len(set(sent_ids)) == len(sent_ids), "one span id injected twice: %r" % sent_ids
matched = set()
for i, (tp, (method, code, optional)) in enumerate(zip(ids, want)):
    assert tp["method"] == method, (i, tp, method)
    if not tp["spanId"]:
        assert optional, "request %d (%s %s) went out without a traceparent" % (i, method, tp["target"])
        continue
    s = by_id.get(tp["spanId"])
    assert s is not None, "request %d (%s %s): the injected traceparent names span %s, never exported" % (
        i, method, tp["target"], tp["spanId"])
    assert s["traceId"] == tp["traceId"] and tp["flags"] == "01", (i, tp, s["traceId"])
    matched.add(s["spanId"])
for s in spans:
    a = s["attributes"]
    # The request a span belongs to: the one whose traceparent names it, else
    # the one whose target ends its url.full (a very long target is cut).
    mine = [(i, w) for i, (tp, w) in enumerate(zip(ids, want)) if tp["spanId"] == s["spanId"]]
    if not mine:
        mine = [(i, w) for i, (tp, w) in enumerate(zip(ids, want))
                if a.get("url.full", "").endswith(tp["target"])]
    assert len(mine) == 1, "span %s (%s) matches no single request" % (s["spanId"], a.get("url.full"))
    i, (method, code, optional) = mine[0]
    if ids[i]["spanId"]:
        assert ids[i]["spanId"] == s["spanId"], "request %d has two spans" % i
    assert s["kind"] == 3 and s["name"] == method, (i, s["name"], method)
    assert a.get("http.response.status_code") == int(code), \
        "request %d (%s): status %s, span says %r" % (i, ids[i]["target"], code, a.get("http.response.status_code"))
    assert a.get("error.type") == (code if int(code) >= 400 else None), (i, a)
strict = [w for w in want if not w[2]]
assert len(spans) >= len(strict), "spans: %d, at least %d expected" % (len(spans), len(strict))
PY
				note "$bin $v: every injected traceparent names its exported span; statuses right"
			fi
		done
	done
done
pass
