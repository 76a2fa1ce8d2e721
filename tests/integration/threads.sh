#!/bin/bash
# A process that never creates a span starts no thread and loads nothing
# (no exporter module, libcurl or protobuf-c), even with OTLP configured;
# once spans exist, the worker thread does and the exporter is loaded.
. "$(dirname "$0")/../support/lib.sh" "$@"
need "$LIB" "$TESTLIB" "$SPANNER"
start_receiver
export OTEL_EXPORTER_OTLP_ENDPOINT=$ENDPOINT OTEL_BSP_SCHEDULE_DELAY=100

# only_one_thread NAME CMD...: CMD sleeps; look at its threads meanwhile.
only_one_thread() {
	local name=$1 pid n
	shift
	env LD_PRELOAD="$LIB" "$@" &
	pid=$!
	track "$pid"
	sleep 1
	[ -d "/proc/$pid" ] || fail "$name ended too early"
	n=$(task_count "$pid")
	cp "/proc/$pid/maps" "$T/maps"
	wait "$pid" || fail "$name failed under the library"
	[ "$n" = 1 ] || fail "$name has $n threads under the library, expected 1"
	grep -q libotelpreload.so "$T/maps" || fail "$name: the library is not even loaded"
	if grep -E 'libotelpreload-exporter|libcurl|libprotobuf-c' "$T/maps" >&2; then
		fail "$name loaded exporter code without exporting anything"
	fi
	note "$name: 1 thread, no exporter code mapped"
}

only_one_thread "sleep 2" sleep 2
only_one_thread "python3 sleep" "$PYTHON" -c 'import time, os; time.sleep(2)'
only_one_thread "sh read/write loop" sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do echo $i | cat >/dev/null; done; sleep 2'
# The shipped library with the testing library's environment: nothing
# creates a span, so nothing starts.
only_one_thread "sleep 2 (console exporter)" env OTEL_TRACES_EXPORTER=console sleep 2

# With spans: the worker exists while the program runs on.
LD_PRELOAD="$TESTLIB" "$SPANNER" -n 3 -w 2500 -p >"$T/spanner.out" &
pid=$!
track "$pid"
wait_spans "$RSPANS" 3 10 || fail "spans did not arrive while the spanner ran"
n=$(task_count "$pid")
cp "/proc/$pid/maps" "$T/maps"
wait "$pid" || fail "spanner failed"
[ "$n" -ge 2 ] || fail "after spans the spanner has $n threads, expected the worker too"
grep -q libotelpreload-exporter.so "$T/maps" || fail "spans were exported but the exporter module is not mapped"
grep -qx "tasks=2" "$T/spanner.out" || { cat "$T/spanner.out" >&2; fail "spanner saw other than 2 threads after its spans"; }
note "after spans: $n threads"

# And the testing library before any span: one thread.
LD_PRELOAD="$TESTLIB" "$SPANNER" -n 0 -w 1500 -p >"$T/spanner0.out" &
pid=$!
track "$pid"
sleep 0.7
n=$(task_count "$pid")
wait "$pid" || fail "spanner -n 0 failed"
[ "$n" = 1 ] || fail "spanner without spans has $n threads"
grep -qx "tasks=1" "$T/spanner0.out" || fail "spanner without spans saw other than 1 thread"
pass
