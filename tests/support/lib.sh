# Helpers for the integration tests. Source it with the build directory:
#   . "$(dirname "$0")/../support/lib.sh" "$@"
#
# It sets BUILD, SRC, LIB (the shipped library), TESTLIB (the testing
# library), SPANNER, CLI, PYTHON, OP_VERSION and T (a private temporary
# directory), clears every OTEL_*/OTELPRELOAD_* variable and LD_PRELOAD so
# each test starts from a known environment, and on exit stops every
# process it was told about (track) and removes T. Every server a test
# starts listens on 127.0.0.1 only and stops by itself.

set -u

if [ $# -lt 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LIB=$BUILD/libotelpreload.so
TESTLIB=$BUILD/libotelpreload-testing.so
SPANNER=$BUILD/tests/spanner
CLI=$BUILD/otelpreload
# The real interpreter, not a version manager's shim script: tests look at
# the pid and threads of the process they start.
if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=$(command -v python3); fi
OP_VERSION=${OP_EXPECTED_VERSION:-$(sed -n 's/^project(otelpreload VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")}
TEST_NAME=$(basename "$0" .sh)

for v in $(env | sed -n 's/^\(OTEL[A-Z0-9_]*\)=.*/\1/p; s/^\(OTELPRELOAD[A-Z0-9_]*\)=.*/\1/p'); do
	unset "$v"
done
unset LD_PRELOAD
# Tests talk to 127.0.0.1 only: no proxy may redirect them elsewhere.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

T=$(mktemp -d "${TMPDIR:-/tmp}/otelpreload-$TEST_NAME.XXXXXX")
OP_PIDS=()

op_cleanup() {
	local p
	for p in "${OP_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${OP_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap op_cleanup EXIT

# track PID: stop this process when the test ends.
track() {
	OP_PIDS+=("$1")
}

fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	exit 1
}

pass() {
	echo "PASS: $TEST_NAME"
	exit 0
}

# note MESSAGE: progress on stdout, shown by ctest --output-on-failure.
note() {
	echo "-- $*"
}

# need FILE...: fail unless each build product exists.
need() {
	local f
	for f in "$@"; do
		[ -e "$f" ] || fail "missing $f (is the build complete?)"
	done
}

# wait_file FILE SECONDS: wait until FILE exists and is not empty.
wait_file() {
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		[ -s "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# spawn_server WHAT PORT_FILE LOG WAIT_S CMD...: runs CMD in the background
# with its output in LOG, tracks it, and waits up to WAIT_S seconds for the
# port it writes to PORT_FILE; sets SERVER_PID and SERVER_PORT. If no port
# comes, shows LOG and fails the test: "WHAT did not start".
spawn_server() {
	local what=$1 port_file=$2 log=$3 wait_s=$4
	shift 4
	"$@" >"$log" 2>&1 &
	SERVER_PID=$!
	track "$SERVER_PID"
	wait_file "$port_file" "$wait_s" || {
		cat "$log" >&2
		fail "$what did not start"
	}
	SERVER_PORT=$(cat "$port_file")
}

OP_RECEIVERS=0

# need_node: the official OTLP decoder must be installed (npm ci in tests/).
need_node() {
	command -v node >/dev/null || fail "node is not installed"
	[ -d "$SRC/tests/node_modules/@opentelemetry/otlp-transformer" ] ||
		fail "tests/node_modules is missing: run 'npm ci' in tests/ (scripts/deps.sh does)"
}

# start_receiver [receiver flags...]: starts tests/support/otlp_receiver.mjs
# and sets RPORT, RPID, RSPANS (one JSON line per span), RREQS (one JSON
# line per request) and ENDPOINT (http://127.0.0.1:RPORT).
start_receiver() {
	need_node
	run_receiver "the OTLP receiver" otlp_receiver.mjs "$@"
	ENDPOINT=http://127.0.0.1:$RPORT
}

# run_receiver WHAT SCRIPT [receiver flags...]: starts the receiver
# tests/support/SCRIPT (node; it takes --port-file, --out, --requests and
# --lifetime) and sets RPORT, RPID, RSPANS and RREQS as start_receiver does.
run_receiver() {
	local what=$1 script=$2 n=$((++OP_RECEIVERS))
	shift 2
	RSPANS=$T/spans.$n.jsonl
	RREQS=$T/requests.$n.jsonl
	spawn_server "$what" "$T/port.$n" "$T/receiver.$n.log" 15 \
		node "$SRC/tests/support/$script" --port-file "$T/port.$n" \
		--out "$RSPANS" --requests "$RREQS" --lifetime 110 "$@"
	RPID=$SERVER_PID RPORT=$SERVER_PORT
	touch "$RREQS"
}

# start_http_server [BIND_ADDRESS]: Python's http.server serving $T/www on
# BIND_ADDRESS (default 127.0.0.1), port chosen by the kernel; sets HPORT
# and HPID. It stops by itself after 100 seconds.
start_http_server() {
	local bind=${1:-127.0.0.1} n=$((++OP_RECEIVERS)) i
	mkdir -p "$T/www"
	timeout 100 "$PYTHON" -u -m http.server --bind "$bind" --directory "$T/www" 0 \
		>"$T/http.$n.log" 2>&1 &
	HPID=$!
	track "$HPID"
	HPORT=
	for ((i = 0; i < 200; i++)); do
		HPORT=$(sed -n 's/^Serving HTTP on .* port \([0-9]*\).*/\1/p' "$T/http.$n.log")
		[ -n "$HPORT" ] && return 0
		kill -0 "$HPID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$T/http.$n.log" >&2
	return 1
}

# closed_port: a 127.0.0.1 port with nothing listening on it.
closed_port() {
	"$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# count_lines FILE
count_lines() {
	if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi
}

# wait_spans FILE N SECONDS: wait until FILE holds at least N spans.
wait_spans() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		[ "$(count_lines "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# settle FILE: wait until FILE stops growing (0.5 s without change).
settle() {
	local last=-1 now i
	for ((i = 0; i < 100; i++)); do
		now=$(count_lines "$1")
		[ "$now" = "$last" ] && return 0
		last=$now
		sleep 0.5
	done
}

# check_json FILE [NAME=VALUE...] <<'PY' ... PY
# Runs the Python snippet on stdin with `rows` bound to the JSON lines of
# FILE (a list of dicts) and `args` to the NAME=VALUE pairs; a failed
# assert fails the test with its message.
check_json() {
	local file=$1 code
	shift
	code=$(cat)
	"$PYTHON" - "$file" "$@" <<PY || fail "check on $(basename "$file") failed"
import json, sys
rows = []
with open(sys.argv[1]) as f:
    for line in f:
        if line.strip():
            rows.append(json.loads(line))
args = dict(a.split("=", 1) for a in sys.argv[2:])
def show(what):
    return json.dumps(what, indent=1, sort_keys=True)[:4000]
try:
$(printf '%s\n' "$code" | sed 's/^/    /')
except AssertionError as e:
    print("assertion failed:", e, file=sys.stderr)
    print("rows:", show(rows), file=sys.stderr)
    sys.exit(1)
PY
}

# now_ms: CLOCK_MONOTONIC-like wall time in milliseconds.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# task_count PID: threads of a running process.
task_count() {
	ls "/proc/$1/task" 2>/dev/null | wc -l | tr -d ' '
}

# A sanitizer build (cmake -DOTELPRELOAD_SANITIZE=...) puts the sanitizer
# runtime first in LIB and TESTLIB and fails the test on any report:
# tests/sanitizers/sanitize.sh. Keep this at the end of lib.sh.
if [ -f "$BUILD/sanitize.env" ]; then
	. "$SRC/tests/sanitizers/sanitize.sh"
fi
