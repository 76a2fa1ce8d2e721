#!/bin/bash
# TCP that is not HTTP passes through untouched and creates no span: a
# Python line-echo server and its client, both preloaded with the shipped
# library, exchange Redis- and memcached-style lines (some starting like an
# HTTP request: "GET key", "POST /x HTTP/9.9") and binary bytes, in both
# directions, on a connection that starts with "PING" and on one that starts
# with "GET key". HTTP over a Unix socket is not TCP either. As a control,
# curl under the library against an unpreloaded http.server does export
# its span to the same receiver.
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/support/http_lib.sh"
need "$LIB"
command -v curl >/dev/null || fail "curl is not installed"
start_receiver
export OTEL_EXPORTER_OTLP_ENDPOINT=$ENDPOINT OTEL_BSP_SCHEDULE_DELAY=100

# The server echoes every line back, records what it received, and exits
# after two connections, so the library's exit flush has run when it is gone.
LD_PRELOAD="$LIB" OTEL_SERVICE_NAME=echo-server timeout 30 "$PYTHON" - "$T/port" "$T/server.recv" \
	>"$T/server.log" 2>&1 <<'PY' &
import os, socket, sys
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % srv.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
got = bytearray()
for _ in range(2):
    conn, _ = srv.accept()
    buf = b""
    while True:
        chunk = conn.recv(4096)
        if not chunk:
            break
        got += chunk
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            conn.sendall(line + b"\n")
    conn.close()
open(sys.argv[2], "wb").write(got)
PY
SPID=$!
track "$SPID"
wait_file "$T/port" 10 || { cat "$T/server.log" >&2; fail "the echo server did not start"; }

LD_PRELOAD="$LIB" OTEL_SERVICE_NAME=echo-client "$PYTHON" - "$(cat "$T/port")" "$T/client.sent" \
	>"$T/client.log" 2>&1 <<'PY'
import socket, sys
sessions = [
    # Redis-style first, then lines that start like HTTP requests or responses.
    [b"PING\r\n", b"*1\r\n$4\r\nPING\r\n", b"GET key\r\n", b"SET key 0 0 5\r\nvalue\r\n",
     b"POST /x HTTP/9.9\r\n", b"HTTP/1.1 200 OK\r\n", bytes(range(256)).replace(b"\n", b"") + b"\n"],
    # memcached-style: the very first bytes look like the start of a GET.
    [b"GET key\r\n", b"GET / HTTP/1.1\r\n", b"\r\n", b"END\r\n"],
]
sent = b""
for lines in sessions:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
    for l in lines:
        s.sendall(l)
        sent += l
        got = b""
        while len(got) < len(l):
            chunk = s.recv(4096)
            assert chunk, "the server closed early"
            got += chunk
        assert got == l, "echo of %r came back as %r" % (l, got)
    s.shutdown(socket.SHUT_WR)
    assert s.recv(10) == b""
    s.close()
open(sys.argv[2], "wb").write(sent)
print("ok")
PY
rc=$?
[ "$rc" = 0 ] && [ "$(cat "$T/client.log")" = ok ] || { cat "$T/client.log" >&2; fail "the echo client failed ($rc)"; }
wait "$SPID" || { cat "$T/server.log" >&2; fail "the echo server failed"; }
[ -s "$T/server.log" ] && { cat "$T/server.log" >&2; fail "the echo server wrote output"; }
cmp "$T/client.sent" "$T/server.recv" || fail "the server received other bytes than the client sent"
note "non-HTTP exchange: $(wc -c <"$T/server.recv") bytes each way, identical"

# HTTP over a Unix socket is not TCP: the socket layer sends no header and
# makes no span. (libcurl is traced at its API, where a request over a Unix
# socket is an HTTP transfer like any other: Python's client is used here.)
start_peer --bind "$T/http.sock"
LD_PRELOAD="$LIB" OTEL_SERVICE_NAME=unix-client "$PYTHON" - "$T/http.sock" >"$T/unix.out" <<'PY' ||
import http.client, socket, sys

class UnixConnection(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(sys.argv[1])

c = UnixConnection("localhost")
c.request("GET", "/echo")
sys.stdout.write(c.getresponse().read().decode())
PY
	fail "an HTTP request over a Unix socket failed under the library"
grep -qi '^traceparent' "$T/unix.out" && fail "a traceparent went out over a Unix socket: $(cat "$T/unix.out")"
grep -q '^GET /echo HTTP/1.1' "$T/unix.out" || fail "the peer on the Unix socket saw: $(cat "$T/unix.out")"
note "HTTP over a Unix socket: passed through untouched"

# Control: the same receiver does get a span from a traced HTTP client.
start_http_server || fail "python3 -m http.server did not start"
echo hi >"$T/www/hi"
LD_PRELOAD="$LIB" OTEL_SERVICE_NAME=control curl --noproxy '*' -sS -o /dev/null "http://127.0.0.1:$HPORT/hi" ||
	fail "curl failed under the library"
check_json "$RSPANS" <<'PY'
names = [(s["resource"]["service.name"], s["name"]) for s in rows]
assert names == [("control", "GET")], "only the control span, nothing from the echo pair or the Unix socket: %r" % names
PY
note "no span from the echo server or client; the control request's span arrived"
pass
