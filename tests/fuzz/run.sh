#!/usr/bin/env bash
# run.sh BUILD_DIR TARGET SECONDS
#
# One fuzz test: replays every input of tests/fuzz/regressions/TARGET (each
# a crash found once, fixed since), then fuzzes TARGET for SECONDS
# (OP_FUZZ_SECONDS overrides it, for longer runs by hand), growing a fresh
# corpus from tests/fuzz/corpus/TARGET. Fails on any crash, sanitizer
# report or broken invariant, and keeps the input that caused it under
# BUILD_DIR/tests/fuzz/artifacts/TARGET.
set -u

if [ $# -ne 3 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILD_DIR TARGET SECONDS" >&2
	exit 2
fi
BUILD=$(cd "$1" && pwd)
TARGET=$2
SECONDS_WANTED=${OP_FUZZ_SECONDS:-$3}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=$BUILD/tests/fuzz/targets/fuzz_$TARGET
ART=$BUILD/tests/fuzz/artifacts/$TARGET

note() {
	echo "-- $*"
}

fail() {
	echo "FAIL: fuzz_$TARGET: $*" >&2
	exit 1
}

# The fuzzers are plain programs: nothing may be preloaded into them.
unset LD_PRELOAD
[ -x "$BIN" ] || fail "missing $BIN (is the build complete?)"
mkdir -p "$ART" || fail "cannot create $ART"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/otelpreload-fuzz-$TARGET.XXXXXX") || fail "no temporary directory"
trap 'rm -rf "$WORK"' EXIT

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

opts=(-timeout=25 -rss_limit_mb=2048 -artifact_prefix="$ART/")
[ -f "$HERE/dict/$TARGET.dict" ] && opts+=(-dict="$HERE/dict/$TARGET.dict")
case $TARGET in
# Long enough for lines past OP_HTTP_LINE_MAX (16384).
http) opts+=(-max_len=40000) ;;
esac

# why LOG: the end of the fuzzer's output, the input it saved, how to go on.
why() {
	tail -n 40 "$1" >&2
	local a
	for a in "$ART"/crash-* "$ART"/leak-* "$ART"/timeout-* "$ART"/oom-*; do
		[ -e "$a" ] || continue
		echo "input: $a" >&2
	done
	echo "reproduce: $BIN INPUT; minimise: $BIN -minimize_crash=1 -runs=20000 INPUT;" \
		"then commit the minimised input to tests/fuzz/regressions/$TARGET/" >&2
}

# 1. Every committed regression input, each run once.
regressions=()
if [ -d "$HERE/regressions/$TARGET" ]; then
	for f in "$HERE/regressions/$TARGET"/*; do
		[ -f "$f" ] && regressions+=("$f")
	done
fi
if ((${#regressions[@]})); then
	if ! "$BIN" "${opts[@]}" "${regressions[@]}" >"$WORK/replay.log" 2>&1; then
		why "$WORK/replay.log"
		fail "a regression input fails again"
	fi
	ran=$(grep -c '^Executed ' "$WORK/replay.log")
	[ "$ran" -eq "${#regressions[@]}" ] ||
		fail "replayed $ran of ${#regressions[@]} regression inputs"
	note "replayed ${#regressions[@]} regression inputs: $(basename -a "${regressions[@]}" | tr '\n' ' ')"
else
	note "no regression inputs"
fi

# 2. Fuzzing from the seed corpus (and the regressions) for the time given;
# 0 means replay only, for a target with an open finding (known/TARGET).
if [ "$SECONDS_WANTED" = 0 ]; then
	note "fuzzing skipped: open findings in $HERE/known/$TARGET ($(ls "$HERE/known/$TARGET" 2>/dev/null | tr '\n' ' '))"
	exit 0
fi
seeds=$(find "$HERE/corpus/$TARGET" -type f | wc -l)
((seeds > 0)) || fail "no seed corpus in $HERE/corpus/$TARGET"
start=$(date +%s)
"$BIN" "${opts[@]}" -max_total_time="$SECONDS_WANTED" -print_final_stats=1 \
	"$WORK" "$HERE/corpus/$TARGET" ${regressions:+"$HERE/regressions/$TARGET"} \
	>"$WORK/fuzz.log" 2>&1
rc=$?
took=$(($(date +%s) - start))
if ((rc != 0)); then
	why "$WORK/fuzz.log"
	fail "the fuzzer stopped with status $rc after $took s"
fi

stat() {
	sed -n "s/^stat::$1: *//p" "$WORK/fuzz.log" | tail -n 1
}
execs=$(stat number_of_executed_units)
rss=$(stat peak_rss_mb)
last=$(grep -E '^#[0-9]+' "$WORK/fuzz.log" | tail -n 1)
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
[ -n "$execs" ] && ((execs > 0)) || fail "the fuzzer ran no input (see $WORK/fuzz.log)"
note "$execs inputs in $took s ($((execs / (took > 0 ? took : 1)))/s) from $seeds seeds:" \
	"coverage $cov edges, $ft features, corpus $corp inputs, peak RSS ${rss} MB"
echo "PASS: fuzz_$TARGET"
