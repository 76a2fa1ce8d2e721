#!/usr/bin/env bash
# README's second command: installs what is missing, builds with warnings as
# errors and runs every test. Arguments are passed to ctest (e.g. -R unit).
#
# Without arguments (as CI runs it) three checks follow once the normal run
# has passed; all of them run, and any report from any of them fails the
# script (tests/sanitizers/ holds their parts):
#
#   asan      ASan+UBSan build (-DOTELPRELOAD_SANITIZE=address,undefined,
#             build/sanitize-asan): the unit and integration tests, every
#             traced program preloaded with the ASan runtime first; leak
#             checking in the project's own programs
#             (tests/sanitizers/sanitize.sh says why not in the hosts)
#   tsan      ThreadSanitizer build (build/sanitize-tsan): the tests that
#             work the queue, the worker, the exporter and the fork handlers
#   valgrind  memcheck over a short traced run of the normal build
#             (tests/sanitizers/valgrind.sh)
#
# OTELPRELOAD_SANITIZERS picks them: unset, all three without arguments and
# none with arguments (so `bash scripts/test.sh -R config` stays quick); 0,
# none; 1, all three even with arguments (which still go to the normal
# ctest run only); or a list such as asan,valgrind. They add 3 to 6 minutes
# on the 2-CPU CI machine, their two builds included.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

stages=${OTELPRELOAD_SANITIZERS-}
if [[ -z $stages ]]; then
	if (($# == 0)); then stages=asan,tsan,valgrind; else stages=0; fi
fi
[[ $stages == 1 ]] && stages=asan,tsan,valgrind
[[ $stages == 0 ]] && stages=
for s in ${stages//,/ }; do
	case $s in
	asan | tsan | valgrind) ;;
	*)
		echo "test.sh: OTELPRELOAD_SANITIZERS=$stages: '$s' is not 0, 1, asan, tsan or valgrind" >&2
		exit 2
		;;
	esac
done
want() { [[ ",$stages," == *",$1,"* ]]; }

bash scripts/deps.sh
# OTELPRELOAD_PORTABLE: also the shipped glibc and musl copies with their
# dependencies built in (portable/, thirdparty/) and build/dist.
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOTELPRELOAD_WERROR=ON -DOTELPRELOAD_TESTS=ON \
	-DOTELPRELOAD_SANITIZE= -DOTELPRELOAD_PORTABLE=ON
t0=$SECONDS
cmake --build build -j2
echo "test.sh: build: $((SECONDS - t0)) s"
# A test without its own TIMEOUT property gets 300 s, not ctest's 1500 s,
# so one hung test cannot eat CI's whole time budget.
ctest --test-dir build --output-on-failure --timeout 300 "$@"
[[ -n $stages ]] || exit 0

# stage NAME CMD...: runs CMD under a banner, says how long it took, and
# notes a failure; every chosen stage runs, so one CI run shows them all.
failed=()
stage() {
	local name=$1 t0=$SECONDS rc=0
	shift
	echo "== $name"
	"$@" || rc=$?
	echo "== $name: $((SECONDS - t0)) s, $([[ $rc == 0 ]] && echo passed || echo "FAILED ($rc)")"
	[[ $rc == 0 ]] || failed+=("$name")
}

# sanitizer_build DIR LIST: a RelWithDebInfo build with -fsanitize=LIST.
# Warnings are errors in the normal build only: gcc's instrumentation
# brings false -Wmaybe-uninitialized and -Wstringop warnings of its own.
sanitizer_build() {
	cmake -S . -B "$1" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOTELPRELOAD_WERROR=OFF \
		-DOTELPRELOAD_TESTS=ON -DOTELPRELOAD_SANITIZE="$2" >/dev/null || return
	cmake --build "$1" -j2 >"$1.log" 2>&1 || {
		tail -50 "$1.log" >&2
		echo "test.sh: the $2 build failed (whole log: $1.log)" >&2
		return 1
	}
}

# Left out under the sanitizers, by name:
#   collector_faults, collector_down  assert wall-clock bounds (the traced
#                      program within 10% of the untraced one, exit within a
#                      deadline), which instrumentation slows by 2-15x
#   elf                reads the library as one file and requires that it
#                      needs only the libc family: a sanitized build needs
#                      libasan/libubsan/libtsan
#   cli, cli_run_root, cli_run_tree
#                      otelpreload run puts the library first in LD_PRELOAD,
#                      where the ASan/TSan runtime must come first
#   export_fork        (ASan) forks while the library's worker starts; gcc
#                      12's ASan does not lock its allocator around fork(),
#                      so the child can hang in its first malloc (TSan and
#                      valgrind run it)
#   threads            (TSan) counts the threads of traced processes; the
#                      TSan runtime adds one of its own
run_asan() {
	sanitizer_build build/sanitize-asan address,undefined || return
	ctest --test-dir build/sanitize-asan --output-on-failure --timeout 300 -j2 \
		-L 'unit|integration' -E '^(collector_faults|collector_down|elf|cli|cli_run_root|cli_run_tree|export_fork)$'
}
# The span pipeline (threads, batches, exit flush, drops), fork with the
# worker running, nginx's master forking workers before its first span,
# Python's thread-per-request server, and the stress test.
run_tsan() {
	sanitizer_build build/sanitize-tsan thread || return
	ctest --test-dir build/sanitize-tsan --output-on-failure --timeout 300 -j2 \
		-R '^(export_spanner|export_fork|export_drops|http_server|http_chain|pipeline_stress)$'
}
run_valgrind() {
	bash tests/sanitizers/valgrind.sh build
}

for s in asan tsan valgrind; do
	if want $s; then stage $s run_$s; fi
done
if ((${#failed[@]})); then
	echo "test.sh: failed: ${failed[*]}" >&2
	exit 1
fi
