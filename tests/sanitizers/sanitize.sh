# Sourced by tests/support/lib.sh when BUILD was configured with
# -DOTELPRELOAD_SANITIZE=... (CMake then writes BUILD/sanitize.env): the
# library, the exporter module and the test programs carry ASan+UBSan or
# TSan, and every program a test preloads with them must load the runtime
# before anything else.
#
# - LIB and TESTLIB become "RUNTIME:LIBRARY:sanitizer-early.so", so every
#   LD_PRELOAD="$LIB" of a test loads the runtime first, and early.c's shim
#   (which keeps curl and wget from hanging at start-up and sends UBSan's
#   reports where ASan's go); need() checks each part. Tests that read LIB
#   as one file (elf, cli) cannot run this way.
# - Every report of every process goes to a private directory instead of
#   stderr (tests compare stderr); at exit, after the test's own cleanup,
#   any report fails the test and is shown.
# - UBSan stops at its first finding; ASan too (halt_on_error).
# - Leak checking (LeakSanitizer) is off for host programs: python3, curl,
#   node, nginx, bash, coreutils leave their own allocations unfreed at exit,
#   and a host's leak report names the host's frames whether or not the
#   library is involved, so a suppression list would hide the library's
#   leaks too. It is on for the project's own programs under BUILD/tests
#   (spanner, bytepeer, curl_multi, tls_nb_client, ...), which free what
#   they allocate: there, a leak is the library's or the test program's.
#   ASan's include_if_exists=DIR/%b reads DIR/<program name> after the
#   other options, and only those programs have a file there. It also sets
#   exitcode=0 for them: the report, not the exit status, fails the test,
#   and a report the verdict below does not count must not make the test
#   fail for another reason.
# - TSan: die_after_fork=0, since the library's fork handlers restart its
#   worker in children of threaded parents by design.

OP_SANITIZE= OP_SANITIZER_RUNTIME= OP_SANITIZER_SHIM=
. "$BUILD/sanitize.env"
LIB=${OP_SANITIZER_RUNTIME:+$OP_SANITIZER_RUNTIME:}$LIB:$OP_SANITIZER_SHIM
TESTLIB=${OP_SANITIZER_RUNTIME:+$OP_SANITIZER_RUNTIME:}$TESTLIB:$OP_SANITIZER_SHIM

need() {
	local f p IFS=:
	for f in "$@"; do
		for p in $f; do
			[ -e "$p" ] || fail "missing $p (is the build complete?)"
		done
	done
}

OP_SANITIZER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/otelpreload-$TEST_NAME.sanitizer.XXXXXX")
mkdir "$OP_SANITIZER_DIR/reports" "$OP_SANITIZER_DIR/leakcheck"
for op_f in $(find "$BUILD/tests" -type f -perm -u+x ! -name '*.so' ! -name '*.sh' 2>/dev/null); do
	echo detect_leaks=1:exitcode=0 >"$OP_SANITIZER_DIR/leakcheck/${op_f##*/}"
done
op_sanitizer_log=log_path=$OP_SANITIZER_DIR/reports/report
export ASAN_OPTIONS="$op_sanitizer_log:halt_on_error=1:detect_leaks=0:include_if_exists=$OP_SANITIZER_DIR/leakcheck/%b"
export UBSAN_OPTIONS="$op_sanitizer_log:halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS="$op_sanitizer_log"
export TSAN_OPTIONS="$op_sanitizer_log:die_after_fork=0:second_deadlock_stack=1"

# The test's exit, then the verdict on the reports of every process it ran.
# A leak report from a process LeakSanitizer could not stop completely
# ("Running thread N was not suspended. False leaks are possible.") is not
# counted: that is a child forked from a threaded process, whose parent's
# other threads are gone, and what only their stacks referenced (the
# host's and the library's alike) shows as leaked. A note counts them;
# valgrind.sh checks such a child with memcheck instead.
op_sanitizer_exit() {
	local n=0 skipped=0 leaked=0 f
	op_cleanup
	for f in "$OP_SANITIZER_DIR"/reports/*; do
		[ -e "$f" ] || continue
		if grep -q 'was not suspended. False leaks are possible' "$f" &&
			! grep -v -e '^==[0-9]*==Running thread' -e '^==[0-9]*==ERROR: LeakSanitizer' "$f" |
			grep -q -e '^==[0-9]*==ERROR' -e 'runtime error' -e 'WARNING: ThreadSanitizer'; then
			skipped=$((skipped + 1))
			grep -q '^SUMMARY' "$f" && leaked=$((leaked + 1))
			continue
		fi
		n=$((n + 1))
		echo "--- sanitizer report ${f##*/} ---" >&2
		cat "$f" >&2
	done
	[ "$skipped" = 0 ] ||
		note "not counted: $skipped leak check(s) of children of threaded processes ($leaked with leaks)"
	rm -rf "$OP_SANITIZER_DIR"
	if [ "$n" -gt 0 ]; then
		echo "FAIL: $TEST_NAME: $n sanitizer report(s) ($OP_SANITIZE), shown above" >&2
		exit 1
	fi
}
trap op_sanitizer_exit EXIT
