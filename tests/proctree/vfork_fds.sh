#!/bin/bash
# A vfork child that closes fds must not touch its parent's state: CPython's
# subprocess (close_fds=True, the default) runs close_range(3, ~0) in a
# vfork child, which shares the server's memory but has its own copy of the
# fd table. A traced server (tests/proctree/exec_server.py) starting a
# program while it serves a request must keep that request's span, export
# it, and exit at once, as untraced; the program gets the server span's
# context in TRACEPARENT.
. "$(dirname "$0")/../support/lib.sh" "$@"
HERE=$SRC/tests/proctree
PROBE=$BUILD/tests/proctree/envprobe
need "$LIB" "$PROBE"
command -v curl >/dev/null || fail "curl is not installed"

env LD_PRELOAD="$LIB" OTELPRELOAD_FILE="$T/srv.jsonl" \
	timeout -s KILL 60 "$PYTHON" "$HERE/exec_server.py" "$T/srv.port" 1 1 "$PROBE" child \
	>"$T/srv.out" 2>"$T/srv.err" &
SRV=$!
track $SRV
wait_file "$T/srv.port" 15 || { cat "$T/srv.err" >&2; fail "exec_server did not start"; }
INB=00-0123456789abcdef0123456789abcdef-1111111111111111-01
curl -s -H "traceparent: $INB" "http://127.0.0.1:$(cat "$T/srv.port")/req" >"$T/body" ||
	fail "the request failed"
start=$(now_ms)
wait $SRV || fail "exec_server exited $?"
took=$(($(now_ms) - start))
[ -s "$T/srv.err" ] && { cat "$T/srv.err" >&2; fail "the library wrote on stderr"; }
[ "$took" -lt 5000 ] ||
	fail "the server took ${took} ms to exit after its last request (its exporter state was changed by a vfork child)"
touch "$T/srv.jsonl"
check_json "$T/srv.jsonl" here="$HERE" body="$T/body" <<'PY'
sys.dont_write_bytecode = True
sys.path.insert(0, args["here"])
from treecheck import spans, fmt, SERVER
ss = spans(rows)
srv = [s for s in ss if s["kind"] == SERVER]
assert len(srv) == 1 and srv[0]["parent"] == "1111111111111111", "server spans:\n    " + fmt(ss)
got = dict(x.split("=", 1) for x in open(args["body"]).read().split()[1:])["TRACEPARENT"]
want = "00-0123456789abcdef0123456789abcdef-%s-01" % srv[0]["id"]
assert got == want, "the program got TRACEPARENT=%s, expected %s" % (got, want)
PY
pass
