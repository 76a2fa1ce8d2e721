#!/bin/bash
# Export retries as the OTLP specification has them, against scripted
# receivers (tests/support/otlp_receiver.mjs --script, and
# otlp_grpc_receiver.mjs on @grpc/grpc-js), the spanner exporting at exit
# or on its schedule:
#  - HTTP 503 with Retry-After: 1 twice, then 200: three attempts >= 1 s
#    apart carrying the same bytes, every span recorded exactly once (also
#    with http/json + gzip); Retry-After as an HTTP-date; 429, 502, 504 are
#    retried after a jittered backoff; 400, 401, 403, 404, 413, 500, 501
#    get exactly one attempt;
#  - a collector that refuses connections, or closes one without an
#    answer, is tried again while the program runs;
#  - retries stop at OTEL_EXPORTER_OTLP_TIMEOUT: a Retry-After beyond it
#    is not waited for, a collector that keeps answering 503 is not tried
#    past it, and the program's exit stays bounded;
#  - gRPC: UNAVAILABLE twice then OK, and each of CANCELLED,
#    DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, DATA_LOSS, are retried;
#    RESOURCE_EXHAUSTED only with a google.rpc.RetryInfo in
#    grpc-status-details-bin, after its retry_delay; INVALID_ARGUMENT and
#    the other codes get one attempt;
#  - a partial success is one debug line naming the rejected count, and
#    nothing at the default log level (http/protobuf, http/json, grpc);
#  - nothing is printed at the default log level, whatever happens.
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/support/exporter_lib.sh"
need "$TESTLIB" "$SPANNER"
export OTEL_BSP_EXPORT_TIMEOUT=20000 OTEL_EXPORTER_OTLP_TIMEOUT=10000
SLACK_MS=1500

# --- HTTP status codes ------------------------------------------------------
start_receiver --script '503:retry-after=1,503:retry-after=1'
run_spanner retry-after 50
attempts "503 Retry-After: 1, twice" 3 50 950 2500
[ "$TOOK" -ge 1900 ] || fail "503 twice with Retry-After: 1: the program exited after $TOOK ms"
stop_receiver

start_receiver --script '503:retry-after=1'
run_spanner retry-json 30 OTEL_EXPORTER_OTLP_PROTOCOL=http/json OTEL_EXPORTER_OTLP_COMPRESSION=gzip
attempts "http/json gzip, 503 Retry-After: 1" 2 30 950 2500
check_json "$RREQS" <<'PY'
assert all(q["contentType"] == "application/json" and q["contentEncoding"] == "gzip" for q in rows), rows
assert all(q["jsonViolations"] == [] for q in rows), [q["jsonViolations"] for q in rows]
PY
stop_receiver

# An HTTP-date 2 s ahead, whole seconds: 1 to 2 s from the answer.
start_receiver --script '503:retry-after-date=2'
run_spanner retry-date 10
attempts "503 Retry-After: HTTP-date" 2 10 900 3200
stop_receiver

for code in 429 502 504; do
	start_receiver --script "$code"
	run_spanner "retry-$code" 10
	# The first backoff is about a second, jittered.
	attempts "HTTP $code" 2 10 400 5500
	stop_receiver
done

for code in 400 401 403 404 413 500 501; do
	start_receiver --script "$code"
	run_spanner "no-retry-$code" 10
	attempts "HTTP $code, not retryable" 1 0 0 0
	[ "$TOOK" -le 3000 ] || fail "HTTP $code: the program took $TOOK ms"
	stop_receiver
done

# --- connection failures, while the program runs -----------------------------
# The collector starts listening a second or more after the first export
# was refused; the batch goes out once it is there, before the exit.
PORT=$(closed_port)
export_start=$(date +%s%3N)
env OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$PORT" OTEL_BSP_SCHEDULE_DELAY=200 \
	LD_PRELOAD="$TESTLIB" "$SPANNER" -n 5 -N late -w 6000 >"$T/late.out" 2>"$T/late.err" &
late=$!
track "$late"
n=$((++OP_RECEIVERS))
RSPANS=$T/spans.$n.jsonl RREQS=$T/requests.$n.jsonl
node "$SRC/tests/support/otlp_receiver.mjs" --port-file "$T/port.$n" --out "$RSPANS" \
	--requests "$RREQS" --lifetime 30 --port "$PORT" --listen-delay 1000 >"$T/receiver.$n.log" 2>&1 &
RPID=$!
track "$RPID"
touch "$RREQS"
wait "$late" || fail "late collector: spanner failed"
export_end=$(date +%s%3N)
silent "late collector" "$T/late.out" "$T/late.err"
[ -s "$T/port.$n" ] || { cat "$T/receiver.$n.log" >&2; fail "late collector: the receiver never listened"; }
attempts "collector listening late" 1 5 0 0
check_json "$RREQS" start="$export_start" end="$export_end" <<'PY'
t = rows[0]["time"] - int(args["start"])
assert t >= 1000, "the batch arrived %d ms after the start, before the receiver listened?" % t
assert rows[0]["time"] <= int(args["end"]) - 1500, \
    "the batch arrived %d ms before the exit: at the exit flush, not by retrying" % (int(args["end"]) - rows[0]["time"])
print("-- collector listening late: batch in %d ms, %d ms before the exit" % (t, int(args["end"]) - rows[0]["time"]))
PY
stop_receiver

# A connection closed without an answer, while the program runs.
start_receiver --script drop
run_spanner dropped 5 OTEL_BSP_SCHEDULE_DELAY=200 -- -w 3000
attempts "connection closed without an answer" 2 5 400 5500
stop_receiver

# --- never beyond OTEL_EXPORTER_OTLP_TIMEOUT ----------------------------------
start_receiver --script '503:retry-after=30'
run_spanner retry-after-30 5 OTEL_EXPORTER_OTLP_TIMEOUT=2000
attempts "Retry-After: 30 with a 2 s timeout" 1 0 0 0
[ "$TOOK" -le $((2000 + SLACK_MS)) ] || fail "Retry-After: 30 with a 2 s timeout: exit after $TOOK ms"
note "Retry-After: 30 with a 2 s timeout: given up, exit in $TOOK ms"
stop_receiver

# "Retry-After: 0" every time: the backoff's floor still spaces the
# attempts (1 s x 1.5^n / 2), so 2.5 s hold at most 4, not a tight loop.
start_receiver --script "$(printf '503:retry-after=0,%.0s' $(seq 50))503:retry-after=0"
run_spanner retry-after-0 5 OTEL_EXPORTER_OTLP_TIMEOUT=2500
check_json "$RREQS" <<'PY'
assert 2 <= len(rows) <= 4, "Retry-After: 0 answered every time: %d attempts in 2.5 s" % len(rows)
gaps = [b["mono"] - a["mono"] for a, b in zip(rows, rows[1:])]
assert min(gaps) >= 400, "attempts %s ms apart: no floor under Retry-After: 0" % gaps
print("-- Retry-After: 0 every time: %d attempts, gaps %s ms" % (len(rows), gaps))
PY
stop_receiver

start_receiver --status 503
run_spanner always-503 5 OTEL_EXPORTER_OTLP_TIMEOUT=2500
check_json "$RREQS" <<'PY'
assert len(rows) >= 2, "503 with no Retry-After: %d attempt(s) in 2.5 s" % len(rows)
span = rows[-1]["mono"] - rows[0]["mono"]
assert span <= 2500, "attempts went on %d ms after the first, past the 2.5 s timeout" % span
print("-- always 503, 2.5 s timeout: %d attempts within %d ms" % (len(rows), span))
PY
[ "$TOOK" -le $((2500 + SLACK_MS)) ] || fail "always 503 with a 2.5 s timeout: exit after $TOOK ms"
stop_receiver

# --- gRPC status codes ------------------------------------------------------------
G=(OTEL_EXPORTER_OTLP_PROTOCOL=grpc)
start_grpc_receiver --script 'UNAVAILABLE,UNAVAILABLE'
run_spanner grpc-unavailable 40 "${G[@]}"
attempts "gRPC UNAVAILABLE twice, then OK" 3 40 400 5500
stop_receiver

for code in CANCELLED DEADLINE_EXCEEDED ABORTED OUT_OF_RANGE DATA_LOSS; do
	start_grpc_receiver --script "$code"
	run_spanner "grpc-$code" 10 "${G[@]}"
	attempts "gRPC $code" 2 10 400 5500
	stop_receiver
done

# One receiver, one scripted answer per program: a code that was retried
# would shift the script and show up as two calls.
NORETRY=(INVALID_ARGUMENT RESOURCE_EXHAUSTED PERMISSION_DENIED UNAUTHENTICATED INTERNAL
	UNIMPLEMENTED NOT_FOUND UNKNOWN FAILED_PRECONDITION ALREADY_EXISTS)
start_grpc_receiver --script "$(IFS=,; echo "${NORETRY[*]}")"
for code in "${NORETRY[@]}"; do
	m=$(mark "$RREQS")
	run_spanner "grpc-$code" 5 "${G[@]}"
	since "$RREQS" "$m" "$T/one.reqs"
	check_json "$T/one.reqs" code="$code" <<'PY'
assert [q["codeName"] for q in rows] == [args["code"]], "%s: calls answered %s" % (args["code"], [q["codeName"] for q in rows])
PY
	[ "$TOOK" -le 3000 ] || fail "gRPC $code: the program took $TOOK ms"
done
[ "$(count_lines "$RSPANS")" = 0 ] || fail "spans recorded for refused calls"
note "gRPC ${NORETRY[*]}: one call each"
stop_receiver

start_grpc_receiver --script 'RESOURCE_EXHAUSTED:retry-delay=1.5'
run_spanner grpc-retryinfo 10 "${G[@]}"
attempts "gRPC RESOURCE_EXHAUSTED with RetryInfo 1.5 s" 2 10 1450 2600
stop_receiver

start_grpc_receiver --script 'UNAVAILABLE:retry-delay=2'
run_spanner grpc-unavailable-retryinfo 10 "${G[@]}"
attempts "gRPC UNAVAILABLE with RetryInfo 2 s" 2 10 1950 3100
stop_receiver

start_grpc_receiver --script 'RESOURCE_EXHAUSTED:retry-delay=30'
run_spanner grpc-retryinfo-30 5 "${G[@]}" OTEL_EXPORTER_OTLP_TIMEOUT=2000
attempts "gRPC RetryInfo 30 s with a 2 s timeout" 1 0 0 0
[ "$TOOK" -le $((2000 + SLACK_MS)) ] || fail "gRPC RetryInfo 30 s with a 2 s timeout: exit after $TOOK ms"
stop_receiver

# --- partial success ----------------------------------------------------------------
for proto in http/protobuf http/json grpc; do
	if [ "$proto" = grpc ]; then
		start_grpc_receiver --partial-success 7
	else
		start_receiver --partial-success 7
	fi
	run_spanner partial 10 OTEL_EXPORTER_OTLP_PROTOCOL=$proto
	env OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" OTEL_EXPORTER_OTLP_PROTOCOL=$proto OTEL_LOG_LEVEL=debug \
		LD_PRELOAD="$TESTLIB" "$SPANNER" -n 10 -N partial-debug >"$T/out" 2>"$T/err" ||
		fail "$proto partial success: spanner failed at debug level"
	[ -s "$T/out" ] && fail "$proto partial success: stdout at debug level"
	[ "$(count_lines "$RSPANS")" = 20 ] || fail "$proto partial success: $(count_lines "$RSPANS") spans recorded"
	check_json "$RREQS" <<'PY'
assert len(rows) == 2 and all(q.get("partial") == 7 for q in rows), rows
PY
	grep -i 'rejected' "$T/err" >"$T/partial.lines"
	[ "$(count_lines "$T/partial.lines")" = 1 ] || {
		cat "$T/err" >&2
		fail "$proto partial success: $(count_lines "$T/partial.lines") debug lines about rejected spans, expected 1"
	}
	grep -qw 7 "$T/partial.lines" || { cat "$T/err" >&2; fail "$proto partial success: the count 7 is not in the line"; }
	grep -qi 'cannot export' "$T/err" && { cat "$T/err" >&2; fail "$proto partial success: reported as a failure"; }
	note "$proto partial success: $(cat "$T/partial.lines")"
	stop_receiver
done
pass
