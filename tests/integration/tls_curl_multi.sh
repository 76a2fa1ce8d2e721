#!/bin/bash
# libcurl applications, HTTP and HTTPS: tests/support/curl_multi runs
# concurrent transfers with the multi interface (curl_multi_perform,
# curl_multi_poll, curl_multi_info_read, curl_multi_remove_handle), or
# sequential ones on one reused easy handle (curl_easy_perform), each
# transfer with a CURLOPT_HTTPHEADER list of the application's own
# (X-Test-Id: N, Accept: text/plain, X-App-Header: value-N), one list
# shared by every transfer, or none; multi handles are also added again
# for a second transfer with only their URL changed. Plain http goes to tests/support/http_peer.py,
# https (not verified) to tests/support/tls_peer.py; both record each
# request head as the application wrote it, before encryption.
#
# Under the library, for every transfer:
#   - the program's header lists are intact after each transfer and after
#     cleanup: same nodes, same string pointers, same strings, same count
#     (curl_multi checks this itself and exits 1 otherwise);
#   - the request reached the server with every application header once
#     and exactly one traceparent, naming that transfer's span (requests
#     are paired with transfers by X-Test-Id, or by target for a shared
#     list, so a traceparent left over from another transfer is caught);
#   - exactly one CLIENT span per transfer (none duplicated by the socket
#     or TLS layers below libcurl), named GET, with url.full (the transfer's
#     URL), url.scheme, http.request.method, server.address/port,
#     network.peer.address/port, http.response.status_code, and for a 404
#     error.type "404" and status ERROR;
#   - a transfer whose list already carries a traceparent gets no span and
#     reaches the server with the application's traceparent only, unchanged;
#   - a transfer to a closed port gets a CLIENT span with a non-empty
#     error.type, status ERROR and no status code.
# The same program without the library first proves it, and the servers,
# right: same answers, lists intact, no traceparent anywhere.
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/support/http_lib.sh"
. "$SRC/tests/support/tls_lib.sh"
CURL_MULTI=$BUILD/tests/curl_multi
need "$LIB" "$CURL_MULTI"
SUPPORT=$SRC/tests/support
start_receiver
start_peer
make_cert
start_tls_peer
H=http://127.0.0.1:$PPORT
S=https://127.0.0.1:$SPORT
CLOSED=$(closed_port)
OWN1=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
OWN2=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01

# run NAME SERVICE|- [curl_multi args...]: runs curl_multi, preloaded and
# exporting as SERVICE unless SERVICE is "-"; its output in $T/NAME.out.
run() {
	local name=$1 svc=$2 rc
	shift 2
	if [ "$svc" = - ]; then
		"$CURL_MULTI" "$@" >"$T/$name.out" 2>"$T/$name.err"
	else
		LD_PRELOAD="$LIB" OTEL_SERVICE_NAME="$svc" OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" \
			OTEL_BSP_SCHEDULE_DELAY=100 "$CURL_MULTI" "$@" >"$T/$name.out" 2>"$T/$name.err"
	fi
	rc=$?
	if [ "$rc" != 0 ]; then
		cat "$T/$name.out" "$T/$name.err" >&2
		[ "$rc" = 1 ] && fail "$name: the application's header lists changed (see above)"
		fail "$name: curl_multi failed ($rc)"
	fi
	[ -s "$T/$name.err" ] && { cat "$T/$name.err" >&2; fail "$name: stderr not empty"; }
	note "$name: $(tail -n 1 "$T/$name.out")"
}

# check NAME SERVICE|- WANT [ownN=TP...] [shared=1] [again=K] [nolist="N..."]:
# judges run NAME. WANT lists each transfer as ID:EXPECT, EXPECT being the
# status code (200, 404), "closed" (connection refused) or "own" (the list
# carries traceparent ownN). shared=1: the run used --shared, every request
# says X-Test-Id: shared. again=K: the run used --again with K URLs
# (transfer K+N is handle N's second). nolist: the --nolist transfers.
# Transfers are told apart on the server by the "run=NAME" in their URLs.
check() {
	local name=$1 svc=$2 want=$3
	shift 3
	check_json "$RSPANS" support="$SUPPORT" out="$T/$name.out" run="$name" svc="$svc" \
		want="$want" pdir="$PDIR" sdir="$SDIR" "$@" <<'PY' || exit 1
import sys; sys.path.insert(0, args["support"]); from spancheck import *
from urllib.parse import urlsplit
out = [json.loads(l) for l in open(args["out"]) if l.strip()]
final, xfers = out[-1], {x["id"]: x for x in out[:-1]}
assert final.get("lists_intact") is True, final
want = dict((int(i), e) for i, e in (w.split(":") for w in args["want"].split()))
assert sorted(xfers) == sorted(want), "transfers reported: %r, expected %r" % (sorted(xfers), sorted(want))
traced = args["svc"] != "-"
spans = spans_of(rows, args["svc"]) if traced else []
tag = "run=%s&" % args["run"]
recs = [dict(r, scheme="http") for r in peer_log(args["pdir"])] + \
       [dict(r, scheme="https") for r in peer_log(args["sdir"])]
recs = [r for r in recs if tag in r["target"] + "&"]
shared = args.get("shared") == "1"
again = int(args.get("again", "0"))
nolist = set(int(i) for i in args.get("nolist", "").split())
by_span = {}
for s in spans:
    assert s["spanId"] not in by_span, "span id %s exported twice" % s["spanId"]
    by_span[s["spanId"]] = s
matched = set()
for i, expect in sorted(want.items()):
    x = xfers[i]
    u = urlsplit(x["url"])
    target = u.path + ("?" + u.query if u.query else "")
    port = u.port
    what = "transfer %d (%s)" % (i, x["url"])
    if expect == "closed":
        assert x["result"] == 7 and x["code"] == 0, "%s: CURLE_COULDNT_CONNECT expected: %r" % (what, x)
    else:
        code = 200 if expect == "own" else int(expect)
        assert x["result"] == 0 and x["code"] == code, "%s: status %d expected: %r" % (what, code, x)
        body = "not found\n" if code == 404 else "hello from %s\n" % u.path
        assert x["body"] == body, "%s: body %r, expected %r" % (what, x["body"], body)
    mine = [r for r in recs if r["scheme"] == u.scheme and r["target"] == target]
    if expect == "closed":
        assert mine == [], "%s: the server got it? %r" % (what, mine)
        ours = [s for s in spans if s["attributes"].get("url.full") == x["url"]]
        if traced:
            assert len(ours) == 1, "%s: one span expected, got %d" % (what, len(ours))
            s = ours[0]
            a = s["attributes"]
            assert s["kind"] == CLIENT and s["name"] == "GET", (what, s["kind"], s["name"])
            assert a.get("url.scheme") == u.scheme and a.get("http.request.method") == "GET", (what, a)
            assert a.get("server.address") == "127.0.0.1" and a.get("server.port") == port, (what, a)
            assert isinstance(a.get("error.type"), str) and a["error.type"], \
                "%s: error.type expected: %r" % (what, a)
            assert "http.response.status_code" not in a, (what, a)
            assert s["status"]["code"] == ERROR, (what, s["status"])
            matched.add(s["spanId"])
            print("%s: span with error.type %r" % (what, a["error.type"]))
        continue
    assert len(mine) == 1, "%s: one request expected on the server, got %d" % (what, len(mine))
    head = mine[0]["head"]
    base = i - again if i > again else i   # the handle's first transfer
    ident = "shared" if shared else str(base)
    if base in nolist:
        expected = (("X-Test-Id", None), ("Accept", "*/*"), ("X-App-Header", None))
    else:
        expected = (("X-Test-Id", ident), ("Accept", "text/plain"), ("X-App-Header", "value-" + ident))
    for name, value in expected + (("User-Agent", "curl_multi-test/1.0"),):
        value = [value] if value else []
        assert header_values(head, name) == value, \
            "%s: the server got %s %r, expected %r: %r" % (what, name, header_values(head, name), value, head)
    tps = header_values(head, "traceparent")
    if expect == "own":
        assert tps == [args["own%d" % base]], \
            "%s: the application's traceparent only, unchanged, expected: %r" % (what, head)
        ours = [s for s in spans if s["attributes"].get("url.full") == x["url"]]
        assert ours == [], "%s: a request with its own traceparent gets no span" % what
        continue
    if not traced:
        assert tps == [], "%s: traceparent without the library? %r" % (what, head)
        continue
    assert len(tps) == 1, "%s: one traceparent expected, got %r in %r" % (what, tps, head)
    m = TRACEPARENT.match(tps[0])
    assert m, "%s: malformed traceparent %r" % (what, tps[0])
    trace, span_id, flags = m.groups()
    s = by_span.get(span_id)
    assert s is not None, "%s: its traceparent names span %s, never exported" % (what, span_id)
    assert s["traceId"] == trace and flags == "01", (what, tps[0], s["traceId"])
    assert span_id not in matched, "%s: its traceparent names the span of another transfer" % what
    matched.add(span_id)
    assert s["kind"] == CLIENT and s["name"] == "GET", (what, s["kind"], s["name"])
    assert s["parentSpanId"] == "", (what, "a root span", s["parentSpanId"])
    a = s["attributes"]
    wanted = {
        "url.full": x["url"], "url.scheme": u.scheme, "http.request.method": "GET",
        "server.address": "127.0.0.1", "server.port": port,
        "network.peer.address": "127.0.0.1", "network.peer.port": port,
    }
    for k, v in wanted.items():
        assert a.get(k) == v, "%s: %s: expected %r, got %r" % (what, k, v, a.get(k))
    check_status(s, code)
    assert int(s["startTimeUnixNano"]) < int(s["endTimeUnixNano"]), what
n = len([e for e in want.values() if e != "own"]) if traced else 0
extra = [(s["name"], s["attributes"].get("url.full")) for s in spans if s["spanId"] not in matched]
assert not extra, "spans that belong to no transfer (duplicates from a lower layer?): %r" % extra
assert len(spans) == n, "%d spans for %d traced transfers" % (len(spans), n)
PY
}

# Six concurrent transfers, three plain and three TLS, two of them 404.
multi_urls() {
	local r=$1
	echo "$H/m/1?run=$r&id=1" "$S/m/2?run=$r&id=2" "$H/m/3?run=$r&id=3&q=x%20y" \
		"$S/m/4?run=$r&id=4" "$H/404?run=$r&id=5" "$S/404?run=$r&id=6"
}
MULTI_WANT="1:200 2:200 3:200 4:200 5:404 6:404"
# shellcheck disable=SC2046
run base - $(multi_urls base)
# shellcheck disable=SC2046
run multi curl-multi $(multi_urls multi)
# The application's own traceparent (both schemes); refused connections.
run edge curl-edge --own 1="$OWN1" --own 2="$OWN2" \
	"$H/m/1?run=edge&id=1" "$S/m/2?run=edge&id=2" "http://127.0.0.1:$CLOSED/m/3?run=edge&id=3" \
	"$S/m/4?run=edge&id=4" "https://127.0.0.1:$CLOSED/m/5?run=edge&id=5" "$H/m/6?run=edge&id=6"
EDGE_WANT="1:own 2:own 3:closed 4:200 5:closed 6:200"
# One easy handle for six transfers (connections reused), a list each but
# the last, which sets none; the third brings its own traceparent.
run easy curl-easy --easy --own 3="$OWN2" --nolist 6 "$H/e/1?run=easy&id=1" "$H/e/2?run=easy&id=2" \
	"$S/e/3?run=easy&id=3" "$S/e/4?run=easy&id=4" "$H/404?run=easy&id=5" "$H/e/6?run=easy&id=6"
EASY_WANT="1:200 2:200 3:own 4:200 5:404 6:200"
# Multi handles added again once done, with only their URL changed; one
# of them has no header list.
run again curl-again --again --nolist 2 "$H/a/1?run=again&id=1" "$S/a/2?run=again&id=2" \
	"$S/a/3?run=again&id=3" "$H/404?run=again&id=4"
AGAIN_WANT="1:200 2:200 3:200 4:404 5:200 6:200 7:200 8:404"
# One list shared by every transfer: concurrent, then on one easy handle.
run shared curl-shared --shared "$H/shared/1?run=shared&id=1" "$S/shared/2?run=shared&id=2" \
	"$H/shared/3?run=shared&id=3" "$S/shared/4?run=shared&id=4"
run easyshared curl-easyshared --easy --shared "$H/shared/1?run=easyshared&id=1" \
	"$H/shared/2?run=easyshared&id=2" "$S/shared/3?run=easyshared&id=3" \
	"$S/shared/4?run=easyshared&id=4"
SHARED_WANT="1:200 2:200 3:200 4:200"

# The library flushes at exit; wait for the receiver to have every span.
settle "$RSPANS"
check base - "$MULTI_WANT"
note "without the library: 6 concurrent transfers (http, https, 404s) right, lists intact, no traceparent"
check multi curl-multi "$MULTI_WANT"
note "multi: 6 concurrent transfers -> 6 CLIENT spans, one traceparent each naming its own span, lists intact"
check edge curl-edge "$EDGE_WANT" own1="$OWN1" own2="$OWN2"
note "own traceparent (http, https): unchanged, alone, no span; refused connections: error spans"
check easy curl-easy "$EASY_WANT" own3="$OWN2" nolist=6
note "easy handle reused for 6 transfers (one with its own traceparent, one without a list): 5 spans, each request names its own"
check again curl-again "$AGAIN_WANT" again=4 nolist=2
note "multi handles re-added for a second transfer (one without a list): 8 spans, each request names its own"
check shared curl-shared "$SHARED_WANT" shared=1
check easyshared curl-easyshared "$SHARED_WANT" shared=1
note "one header list shared by concurrent and by sequential transfers: intact, one traceparent each"
pass
