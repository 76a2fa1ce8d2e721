#!/bin/bash
# Network namespaces entered before any network use: tests/process/netns.c
# calls unshare(CLONE_NEWNET), or unshare(CLONE_NEWUSER | CLONE_NEWNET)
# (refused to a process with more than one thread, so this also shows the
# library started none), brings up the new loopback and makes HTTP
# requests to a server thread of its own. Traced it must behave exactly as
# untraced: same unshare result, same output, every answer right, exit 0,
# nothing on stderr, no hang; the traceparent is injected; the export to a
# collector that is not in that namespace fails silently. Then util-linux
# unshare(1) itself preloaded: same statuses and output as untraced. A part
# the kernel or the sandbox does not permit untraced is skipped, naming the
# reason; the test is skipped when every part is.
. "$(dirname "$0")/plib.sh" "$@"
need "$LIB" "$PBIN/netns"
start_receiver
export OTEL_EXPORTER_OTLP_ENDPOINT=$ENDPOINT OTEL_BSP_SCHEDULE_DELAY=50
ran=0

for mode in net user; do
	timeout -s KILL 30 "$PBIN/netns" -m $mode -n 10 >"$T/$mode.plain" 2>"$T/$mode.plain.err"
	rc=$?
	if [ "$rc" = 3 ]; then
		note "SKIP unshare -m $mode: refused untraced ($(cat "$T/$mode.plain")), nothing to compare"
		continue
	fi
	[ "$rc" = 0 ] || { cat "$T/$mode.plain.err" >&2; fail "netns -m $mode failed untraced ($rc)"; }
	grep -qx "traceparents=0" "$T/$mode.plain" || fail "untraced requests carried a traceparent?"
	t0=$(now_ms)
	timeout -s KILL 30 env LD_PRELOAD="$LIB" "$PBIN/netns" -m $mode -n 10 >"$T/$mode.traced" 2>"$T/$mode.err"
	rc=$? ms=$(elapsed_ms "$t0")
	[ "$rc" = 0 ] || { cat "$T/$mode.traced" "$T/$mode.err" >&2; fail "netns -m $mode exited $rc under the library"; }
	[ -s "$T/$mode.err" ] && { cat "$T/$mode.err" >&2; fail "netns -m $mode wrote to stderr under the library"; }
	diff <(grep -v '^traceparents=' "$T/$mode.plain") <(grep -v '^traceparents=' "$T/$mode.traced") >&2 ||
		fail "netns -m $mode printed something else under the library"
	grep -qx "traceparents=10" "$T/$mode.traced" ||
		fail "netns -m $mode: $(grep traceparents "$T/$mode.traced") of 10 requests carried a traceparent"
	note "unshare($mode): same result and output as untraced, 10 of 10 answers right, traceparent injected, exit 0 in $ms ms"
	ran=$((ran + 1))
done

# unshare(1): preloaded, it calls unshare() and execs the command, which
# is then preloaded too.
command -v unshare >/dev/null || { note "SKIP unshare(1): not installed"; [ $ran = 0 ] && exit 77; pass; }
# unshare_case ARGS...: unshare ARGS untraced, then preloaded.
unshare_case() {
	local want got
	timeout -s KILL 30 unshare "$@" >"$T/u.plain" 2>"$T/u.plain.err"
	want=$?
	if [ "$want" != 0 ] && [ "$want" != 5 ] && [ -s "$T/u.plain.err" ]; then
		note "SKIP unshare $*: refused untraced ($(head -1 "$T/u.plain.err"))"
		return
	fi
	timeout -s KILL 30 env LD_PRELOAD="$LIB" unshare "$@" >"$T/u.out" 2>"$T/u.err"
	got=$?
	[ "$got" = "$want" ] || { cat "$T/u.err" >&2; fail "unshare $*: status $got traced, $want untraced"; }
	cmp -s "$T/u.plain" "$T/u.out" || fail "unshare $*: other output traced"
	cmp -s "$T/u.plain.err" "$T/u.err" || { cat "$T/u.err" >&2; fail "unshare $*: other stderr traced"; }
	note "unshare $*: status $got and output as untraced"
	ran=$((ran + 1))
}
unshare_case -n sh -c 'exit 5'
unshare_case -rn sh -c 'exit 5'
unshare_case -rn id -u
unshare_case -rn --fork --pid --mount-proc sh -c 'echo $$; exit 5'
[ $ran = 0 ] && { note "every part was refused untraced: skipped"; exit 77; }
pass
