#!/bin/bash
# With the collector unreachable (closed port) or black-holing requests,
# a program exits with its own status, within OTEL_BSP_EXPORT_TIMEOUT
# (plus slack for start-up), and prints nothing unless OTEL_LOG_LEVEL=debug.
. "$(dirname "$0")/../support/lib.sh" "$@"
need "$LIB" "$TESTLIB" "$SPANNER"
export OTEL_BSP_EXPORT_TIMEOUT=2000
SLACK_MS=1500

# bounded NAME EXTRA_MS EXPECTED_STATUS CMD...: runs CMD, checks its status,
# its silence and that it took at most timeout + EXTRA_MS + slack.
bounded() {
	local name=$1 extra=$2 want=$3 start end rc
	shift 3
	start=$(now_ms)
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	end=$(now_ms)
	[ "$rc" = "$want" ] || { cat "$T/err" >&2; fail "$name: exit status $rc, expected $want"; }
	[ -s "$T/out" ] && { cat "$T/out" >&2; fail "$name: unexpected stdout"; }
	[ -s "$T/err" ] && { cat "$T/err" >&2; fail "$name: printed on stderr at the default log level"; }
	[ $((end - start)) -le $((OTEL_BSP_EXPORT_TIMEOUT + extra + SLACK_MS)) ] ||
		fail "$name: took $((end - start)) ms, bound $((OTEL_BSP_EXPORT_TIMEOUT + extra + SLACK_MS)) ms"
	note "$name: exit $rc in $((end - start)) ms, silent"
}

CLOSED=$(closed_port)
export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$CLOSED
bounded "closed port, spanner" 0 5 env LD_PRELOAD="$TESTLIB" "$SPANNER" -n 50 -x 5
bounded "closed port, spanner exit()" 0 6 env LD_PRELOAD="$TESTLIB" "$SPANNER" -n 50 -e -x 6
bounded "closed port, process span" 0 3 env LD_PRELOAD="$LIB" OTELPRELOAD_PROCESS_SPAN=true bash -c 'exit 3'
bounded "closed port, python3" 0 0 env LD_PRELOAD="$LIB" OTELPRELOAD_PROCESS_SPAN=true "$PYTHON" -c 'pass'
# A long OTLP timeout does not stretch the exit bound.
bounded "closed port, long OTLP timeout" 0 0 env LD_PRELOAD="$TESTLIB" OTEL_EXPORTER_OTLP_TIMEOUT=60000 "$SPANNER" -n 5

# An export already retrying the closed port when the program ends gives
# up at once: with the default timeouts (OTLP 10 s, exit 30 s) the retries
# would otherwise hold the exit for seconds.
start=$(now_ms)
env LD_PRELOAD="$TESTLIB" OTEL_BSP_EXPORT_TIMEOUT= OTEL_BSP_SCHEDULE_DELAY=100 \
	"$SPANNER" -n 5 -w 1500 -x 4 >"$T/out" 2>"$T/err"
rc=$? took=$(($(now_ms) - start))
[ "$rc" = 4 ] || fail "retrying at exit: exit status $rc, expected 4"
[ -s "$T/err" ] && { cat "$T/err" >&2; fail "retrying at exit: printed on stderr"; }
[ "$took" -le $((1500 + 1000)) ] || fail "retrying at exit: took $took ms for a 1500 ms program"
note "closed port, retrying when the program exits: done in $took ms (program: 1500 ms)"

# Debug output says what happened, with the prefix.
LD_PRELOAD="$TESTLIB" OTEL_LOG_LEVEL=debug "$SPANNER" -n 5 >"$T/out" 2>"$T/err"
[ $? = 0 ] || fail "spanner failed with OTEL_LOG_LEVEL=debug"
[ -s "$T/err" ] || fail "OTEL_LOG_LEVEL=debug printed nothing about the failed export"
grep -qv '^otelpreload: ' "$T/err" && { cat "$T/err" >&2; fail "debug lines without the otelpreload: prefix"; }
note "debug: $(wc -l <"$T/err") lines"

# Black hole: the receiver reads the request and never answers.
start_receiver --blackhole
export OTEL_EXPORTER_OTLP_ENDPOINT=$ENDPOINT
bounded "black hole, spanner" 0 7 env LD_PRELOAD="$TESTLIB" "$SPANNER" -n 50 -x 7
bounded "black hole, process span" 0 4 env LD_PRELOAD="$LIB" OTELPRELOAD_PROCESS_SPAN=true "$PYTHON" -c 'import sys; sys.exit(4)'
bounded "black hole, long OTLP timeout" 0 0 env LD_PRELOAD="$TESTLIB" OTEL_EXPORTER_OTLP_TIMEOUT=60000 "$SPANNER" -n 5
# An export already stuck when the program ends (schedule delay passed
# while it ran): the exit is still bounded.
bounded "black hole, export in flight at exit" 1000 0 \
	env LD_PRELOAD="$TESTLIB" OTEL_BSP_SCHEDULE_DELAY=100 "$SPANNER" -n 5 -w 1000
[ "$(count_lines "$RREQS")" -ge 1 ] || fail "the black hole received no request at all"

# The receiver answers 500: no retry (not retryable), no output.
start_receiver --status 500
export OTEL_EXPORTER_OTLP_ENDPOINT=$ENDPOINT
bounded "HTTP 500" 0 0 env LD_PRELOAD="$TESTLIB" "$SPANNER" -n 5
[ "$(count_lines "$RREQS")" = 1 ] || fail "HTTP 500: $(count_lines "$RREQS") requests for one batch (500 is not retryable)"

# 503: retried with backoff (exporter_retry.sh checks how), and still
# bounded and silent like any failure.
start_receiver --status 503
export OTEL_EXPORTER_OTLP_ENDPOINT=$ENDPOINT
bounded "HTTP 503" 0 0 env LD_PRELOAD="$TESTLIB" "$SPANNER" -n 5
[ "$(count_lines "$RREQS")" -ge 1 ] || fail "HTTP 503: the receiver got no request"
note "HTTP 503: $(count_lines "$RREQS") attempts"
pass
