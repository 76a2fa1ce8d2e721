#!/bin/bash
# Differential run of CPython's own socket, TLS and HTTP test suites
# (Debian's libpython3.11-testsuite):
#
#   pysuite.sh BUILD_DIR SUITE
#
# SUITE names one test module (httplib, urllib2_localnet, httpservers,
# socketserver, selectors, socket, ssl) or a group run together (asyncio,
# servers, polling; see below). It runs twice through CPython's test
# runner (`python3 -m test -v test_...`, in process under
# tests/differential/pyrun.py): plain, then preloaded with the shipped
# library exporting to the test receiver with OTEL_BSP_SCHEDULE_DELAY=50,
# so the exporter thread runs and exports while the suite does. Every test
# case must have the same outcome in both runs (pyoutcomes.py), nothing
# on the traced run's stderr may come from the library, and the traced run
# must have exported spans from that process: the probe
# requests pyrun.py makes before and after the suite and, for the suites
# that speak HTTP, the suite's own SERVER and CLIENT spans; the suites that
# speak no HTTP must have made no span of their own. Everything stays on
# loopback: no -u network except for test_socketserver, which asks for it
# but only talks to 127.0.0.1 and Unix sockets.
. "$(dirname "$0")/../support/lib.sh" "$@"
SUITE=${2:?usage: pysuite.sh BUILD_DIR SUITE}
TEST_NAME=py_$SUITE
need "$LIB"
HERE=$SRC/tests/differential

# Per suite: its modules, the runner's options, whether it speaks HTTP,
# the cases left out on this machine, each with its reason, and LIMIT, the
# seconds a run may take (several times what it takes here; the runner's
# own --timeout fires first and prints where the suite hung).
MODULES=("test_$SUITE")
LIMIT=120
HTTP=no
AS_NOBODY=no
ARGS=()
case $SUITE in
httplib | urllib2_localnet) HTTP=yes ;;
httpservers)
	HTTP=yes
	# Its CGIHTTPServerTestCase (14 cases: CGI scripts forked and run by
	# the server with the connection as their stdout) skips itself as root;
	# run it as nobody when we are root so those cases run too.
	[ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && AS_NOBODY=yes
	;;
socketserver) ARGS+=(-u network) ;;
selectors) ;;
socket)
	LIMIT=200
	# ThreadedVSOCKSocketStreamTest connects an AF_VSOCK socket to this
	# machine's own CID; in a Firecracker VM the connect never returns, with
	# or without the library (BasicVSOCKTest, which makes no connection,
	# still runs).
	ARGS+=(-i '*ThreadedVSOCKSocketStreamTest*')
	;;
ssl)
	# OpenSSL through the _ssl module: blocking and non-blocking sockets,
	# memory BIOs, echo and HTTPS servers in threads.
	LIMIT=200
	HTTP=yes
	;;
asyncio)
	# Event loops on non-blocking sockets: low-level sock_* calls, streams,
	# sendfile, TLS over memory BIOs, servers.
	MODULES=(test_asyncio.test_sock_lowlevel test_asyncio.test_streams test_asyncio.test_sendfile
		test_asyncio.test_ssl test_asyncio.test_server)
	HTTP=yes
	;;
servers)
	# Loopback servers of other protocols: WSGI and XML-RPC over HTTP,
	# SMTP and POP3 (with TLS) in text.
	MODULES=(test_wsgiref test_docxmlrpc test_smtplib test_poplib)
	HTTP=yes
	;;
polling)
	# select, epoll and fcntl (F_DUPFD and friends copy fds the library
	# tracks). test_poll is left out for time: it spends 11 s in timeouts.
	MODULES=(test_select test_epoll test_fcntl)
	;;
*) fail "unknown suite $SUITE" ;;
esac
ARGS=(-v --timeout $((LIMIT - 15)) --fail-env-changed "${ARGS[@]}")
for m in "${MODULES[@]}"; do
	"$PYTHON" -c "import test.$m" 2>/dev/null ||
		fail "test.$m cannot be imported: install Debian's libpython3.11-testsuite (scripts/deps.sh)"
done

start_receiver --lifetime $((2 * LIMIT + 60))
SVC=py-$SUITE
mkdir -p "$T/www" "$T/plain" "$T/traced"
echo probe >"$T/www/otelpreload-probe-before"
echo probe >"$T/www/otelpreload-probe-after"
spawn_server "the probe server" "$T/probe.port" "$T/probe.log" 15 \
	"$PYTHON" -c 'import functools, http.server, sys
sys.path.insert(0, sys.argv[1])
from serve import serve
serve(functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[2]), sys.argv[3], int(sys.argv[4]))' \
	"$SRC/tests/support" "$T/www" "$T/probe.port" $((2 * LIMIT + 60))
PROBE=http://127.0.0.1:$SERVER_PORT

RUN_AS=()
# A sanitizer build's reports go to a directory only we can write.
[ -n "${OP_SANITIZER_DIR:-}" ] && AS_NOBODY=no
if [ "$AS_NOBODY" = yes ]; then
	chmod 755 "$T"
	chown nobody "$T/plain" "$T/traced"
	RUN_AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
	# The library and the runner must be reachable by nobody, else run as we are.
	if ! "${RUN_AS[@]}" test -r "$LIB" -a -r "$HERE/pyrun.py"; then
		note "nobody cannot read $LIB: running as $(id -un), CGI cases skip themselves"
		RUN_AS=()
	fi
fi

# run MODE [ENV=VALUE...]: the suite once, its output in $T/MODE.
run() {
	local mode=$1 t0 rc
	shift
	t0=$(now_ms)
	timeout "$LIMIT" "${RUN_AS[@]}" env HOME="$T/$mode" "$@" "$PYTHON" "$HERE/pyrun.py" \
		--probe "$PROBE" --pid-file "$T/$mode/pid" ${WAIT_EXPORT:+--wait-export "$WAIT_EXPORT"} -- \
		"${ARGS[@]}" --tempdir "$T/$mode/tmp" "${MODULES[@]}" >"$T/$mode/out" 2>"$T/$mode/err"
	rc=$?
	echo "$rc" >"$T/$mode/rc"
	note "$mode run: exit $rc in $(($(now_ms) - t0)) ms"
	case $rc in
	124 | 137)
		tail -n 40 "$T/$mode/out" "$T/$mode/err" >&2
		fail "the $mode run of ${MODULES[*]} did not finish in $LIMIT s"
		;;
	97 | 98) cat "$T/$mode/err" >&2; fail "the $mode run's driver failed" ;;
	esac
}

WAIT_EXPORT="" run plain
WAIT_EXPORT=$RREQS run traced LD_PRELOAD="$LIB" OTEL_SERVICE_NAME="$SVC" \
	OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" OTEL_BSP_SCHEDULE_DELAY=50

# The suites' own stderr varies (threads report errors as they go), but
# nothing in it may come from the library.
if grep -n '^otelpreload' "$T/traced/err" >&2; then
	fail "the library wrote to the suite's stderr"
fi
"$PYTHON" "$HERE/pyoutcomes.py" "$T/plain" "$T/traced" || {
	echo "--- stderr of the traced run (last 40 lines):" >&2
	tail -n 40 "$T/traced/err" >&2
	fail "${MODULES[*]}: outcomes differ between the plain and the traced run"
}

# The library flushed at exit; whatever it exported has arrived.
settle "$RSPANS"
check_json "$RSPANS" svc="$SVC" pid="$(cat "$T/traced/pid")" http="$HTTP" reqs="$RREQS" \
	exe="$(basename "$(readlink -f "$PYTHON")")" <<'PY'
pid = int(args["pid"])
assert rows, "the traced run exported no span"
others = [s for s in rows if s["resource"].get("service.name") != args["svc"]]
assert not others, "spans of another service: %s" % show(others[:3])
exe = {s["resource"].get("process.executable.name") for s in rows}
assert exe == {args["exe"]}, "spans from %r" % exe
probe = lambda s: s["attributes"].get("url.full", "").rsplit("/", 1)[-1].startswith("otelpreload-probe-")
probes = sorted(s["attributes"]["url.full"].rsplit("-", 1)[-1] for s in rows if probe(s))
assert probes == ["after", "before"], "the probe requests' CLIENT spans: %r" % probes
assert all(s["resource"]["process.pid"] == pid for s in rows if probe(s)), "probe spans of another process"
suite = [s for s in rows if not probe(s)]
kinds = {s["kind"] for s in suite if s["resource"]["process.pid"] == pid}
if args["http"] == "yes":
    assert kinds == {2, 3}, "the suite's own SERVER and CLIENT spans: kinds %r" % kinds
else:
    assert not suite, "a suite that speaks no HTTP made spans: %s" % show(suite[:3])
with open(args["reqs"]) as f:
    nreq = sum(1 for l in f if l.strip())
print("-- %d spans exported in %d requests: %d of the suite (%d SERVER, %d CLIENT), 2 probes" % (
    len(rows), nreq, len(suite), sum(s["kind"] == 2 for s in suite), sum(s["kind"] == 3 for s in suite)))
PY
pass
