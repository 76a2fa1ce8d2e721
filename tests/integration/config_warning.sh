#!/bin/bash
# An invalid variable gives exactly one warning naming the variable and
# the value, once the SDK is used; a program that makes no span parses no
# configuration and prints nothing.
. "$(dirname "$0")/../support/lib.sh" "$@"
need "$LIB" "$TESTLIB" "$SPANNER"
export OTEL_TRACES_EXPORTER=none

LD_PRELOAD="$TESTLIB" OTEL_BSP_MAX_QUEUE_SIZE=abc "$SPANNER" -n 3 -t 3 >"$T/out" 2>"$T/err" ||
	fail "spanner failed"
cat "$T/err"
[ "$(count_lines "$T/err")" = 1 ] || fail "expected exactly one warning line, got $(count_lines "$T/err")"
grep -q '^otelpreload: .*OTEL_BSP_MAX_QUEUE_SIZE.*abc' "$T/err" ||
	fail "the warning does not name OTEL_BSP_MAX_QUEUE_SIZE and abc"

# Several bad variables: one line each; in forked children, no repeat.
LD_PRELOAD="$TESTLIB" OTEL_BSP_SCHEDULE_DELAY=-1 OTEL_TRACES_SAMPLER=bogus \
	"$SPANNER" -n 2 -f 2 >"$T/out" 2>"$T/err" || fail "spanner failed"
cat "$T/err"
[ "$(count_lines "$T/err")" = 2 ] || fail "expected two warning lines, got $(count_lines "$T/err")"
grep -q 'OTEL_BSP_SCHEDULE_DELAY.*-1' "$T/err" || fail "no warning for OTEL_BSP_SCHEDULE_DELAY=-1"
grep -q 'OTEL_TRACES_SAMPLER.*bogus' "$T/err" || fail "no warning for OTEL_TRACES_SAMPLER=bogus"

# No span, no configuration, no warning.
LD_PRELOAD="$LIB" OTEL_BSP_MAX_QUEUE_SIZE=abc ls / >"$T/out" 2>"$T/err" || fail "ls failed"
[ -s "$T/err" ] && { cat "$T/err" >&2; fail "a program that makes no span printed a warning"; }

# OTEL_LOG_LEVEL=none silences the warning; an unknown level is itself
# reported once.
LD_PRELOAD="$TESTLIB" OTEL_LOG_LEVEL=none OTEL_BSP_MAX_QUEUE_SIZE=abc "$SPANNER" -n 1 2>"$T/err" ||
	fail "spanner failed"
[ -s "$T/err" ] && { cat "$T/err" >&2; fail "OTEL_LOG_LEVEL=none still printed"; }
LD_PRELOAD="$TESTLIB" OTEL_LOG_LEVEL=chatty "$SPANNER" -n 1 2>"$T/err" || fail "spanner failed"
[ "$(count_lines "$T/err")" = 1 ] && grep -q 'OTEL_LOG_LEVEL.*chatty' "$T/err" ||
	{ cat "$T/err" >&2; fail "OTEL_LOG_LEVEL=chatty not reported exactly once"; }
pass
