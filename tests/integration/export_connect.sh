#!/bin/bash
# Hook to receiver with real clients: the testing library records a CLIENT
# "connect" span for each TCP connect() of curl and of Python's urllib to a
# local http.server, and nothing for the exporter's own connections.
. "$(dirname "$0")/../support/lib.sh" "$@"
need "$TESTLIB"
command -v curl >/dev/null || fail "curl is not installed"
start_receiver
start_http_server || fail "python3 -m http.server did not start"
head -c 100000 /dev/urandom >"$T/www/blob"
export OTEL_EXPORTER_OTLP_ENDPOINT=$ENDPOINT OTEL_BSP_SCHEDULE_DELAY=100

# curl: non-blocking connect (EINPROGRESS).
code=$(LD_PRELOAD="$TESTLIB" curl --noproxy '*' -sS -o "$T/curl.out" -w '%{http_code}' \
	"http://127.0.0.1:$HPORT/blob" 2>"$T/curl.err")
rc=$?
[ "$rc" = 0 ] && [ "$code" = 200 ] || { cat "$T/curl.err" >&2; fail "curl under the library: rc $rc, HTTP $code"; }
cmp -s "$T/www/blob" "$T/curl.out" || fail "curl received other bytes under the library"
[ -s "$T/curl.err" ] && { cat "$T/curl.err" >&2; fail "curl wrote to stderr"; }
wait_spans "$RSPANS" 1 5 || fail "no connect span from curl"
settle "$RSPANS"
check_json "$RSPANS" port="$HPORT" rport="$RPORT" <<'PY'
assert len(rows) == 1, "exactly one span: curl's connect (the exporter's own connection is untraced)"
s = rows[0]
assert s["name"] == "connect" and s["kind"] == 3, s
a = s["attributes"]
assert a["network.peer.address"] == "127.0.0.1", a
assert a["network.peer.port"] == int(args["port"]), a
assert a["network.transport"] == "tcp", a
assert s["resource"]["service.name"] == "unknown_service:curl", s["resource"]
assert int(s["startTimeUnixNano"]) <= int(s["endTimeUnixNano"])
PY
note "curl: connect span to 127.0.0.1:$HPORT"

# Python urllib: blocking connect; and a refused connect records nothing
# and keeps its errno (Python turns it into ConnectionRefusedError).
CLOSED=$(closed_port)
LD_PRELOAD="$TESTLIB" OTEL_SERVICE_NAME=urllib "$PYTHON" - "$HPORT" "$CLOSED" >"$T/py.out" 2>"$T/py.err" <<'PY'
import socket, sys, urllib.request
port, closed = sys.argv[1], int(sys.argv[2])
with urllib.request.urlopen("http://127.0.0.1:%s/blob" % port, timeout=20) as r:
    print(r.status, len(r.read()))
try:
    # No timeout: a blocking connect() that fails outright (with a
    # timeout Python connects non-blocking and sees EINPROGRESS first).
    socket.create_connection(("127.0.0.1", closed))
    print("connected?")
except ConnectionRefusedError:
    print("refused")
PY
rc=$?
[ "$rc" = 0 ] || { cat "$T/py.err" >&2; fail "python3 urllib failed under the library ($rc)"; }
printf '200 100000\nrefused\n' | cmp -s - "$T/py.out" || { cat "$T/py.out" >&2; fail "python3 printed something else"; }
[ -s "$T/py.err" ] && { cat "$T/py.err" >&2; fail "python3 wrote to stderr"; }
wait_spans "$RSPANS" 2 5 || fail "no connect span from urllib"
settle "$RSPANS"
check_json "$RSPANS" port="$HPORT" closed="$CLOSED" <<'PY'
py = [s for s in rows if s["resource"]["service.name"] == "urllib"]
assert len(py) == 1, "one connect span from python (none for the refused one), got %d" % len(py)
a = py[0]["attributes"]
assert py[0]["name"] == "connect" and py[0]["kind"] == 3
assert a["network.peer.address"] == "127.0.0.1" and a["network.peer.port"] == int(args["port"]), a
assert a["network.transport"] == "tcp"
assert all(s["attributes"].get("network.peer.port") != int(args["closed"]) for s in rows)
PY
note "python urllib: connect span; refused connect untraced, errno intact"

# IPv6 loopback, where the machine has it.
if "$PYTHON" -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
	start_http_server ::1 || fail "http.server on ::1 did not start"
	LD_PRELOAD="$TESTLIB" OTEL_SERVICE_NAME=curl6 curl --noproxy '*' -sS -o /dev/null \
		"http://[::1]:$HPORT/blob" || fail "curl to [::1] failed under the library"
	wait_spans "$RSPANS" 3 5 || fail "no connect span for ::1"
	check_json "$RSPANS" port="$HPORT" <<'PY'
s = [s for s in rows if s["resource"]["service.name"] == "curl6"]
assert len(s) == 1
a = s[0]["attributes"]
assert a["network.peer.address"] == "::1" and a["network.peer.port"] == int(args["port"]), a
PY
	note "curl over IPv6: peer ::1"
else
	note "no IPv6 loopback on this machine: the ::1 case did not run"
fi
pass
