#!/usr/bin/env bash
# Prints what libotelpreload.so costs a program that it does not trace:
#   (a) process start-up of /bin/true, with and without the library;
#   (b) a pass-through read()/write() on a pipe (bench/passthrough.c), in
#       nanoseconds and, with valgrind, (c) in instructions.
# Figures only: timing never makes this script fail. See bench/README.md.
#
# Environment: OTELPRELOAD_LIBRARY (measure that file instead of building
# build/libotelpreload.so), BENCH_RUNS (300), BENCH_WARMUP (20),
# BENCH_PAIRS (5000000), BENCH_REPEATS (5).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs=${BENCH_RUNS:-300}
warmup=${BENCH_WARMUP:-20}
pairs=${BENCH_PAIRS:-5000000}
repeats=${BENCH_REPEATS:-5}
out=build/bench
mkdir -p "$out"

# Nothing of the caller's may reach the measured processes.
unset LD_PRELOAD OTELPRELOAD_PROCESS_SPAN

die() {
	printf 'bench: %s\n' "$*" >&2
	exit 1
}

command -v python3 >/dev/null || die "python3 is needed for the statistics (bash scripts/deps.sh)"
command -v cc >/dev/null || die "cc is needed to build bench/passthrough.c (bash scripts/deps.sh)"

if [[ -n ${OTELPRELOAD_LIBRARY:-} ]]; then
	lib=$OTELPRELOAD_LIBRARY
	build_type="given by OTELPRELOAD_LIBRARY"
else
	lib=build/libotelpreload.so
	log=$out/build.log
	# Always ask the build system: it rebuilds only what changed, so the
	# figures are never those of a stale library.
	if ! { [[ -f build/CMakeCache.txt ]] ||
		cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo; } >"$log" 2>&1 ||
		! cmake --build build -j2 --target libotelpreload >>"$log" 2>&1; then
		cat "$log" >&2
		die "building the library failed"
	fi
	build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' build/CMakeCache.txt)
fi
[[ -f $lib ]] || die "$lib does not exist"
lib=$(realpath "$lib")
[[ $lib != *[[:space:]:]* ]] || die "$lib: a preloaded path cannot contain ':' or blanks"

# The loader only warns when it cannot preload: check once, or every
# figure below would silently measure nothing.
if ! msg=$(env LD_PRELOAD="$lib" /bin/true 2>&1) || [[ -n $msg ]]; then
	die "LD_PRELOAD=$lib /bin/true does not run cleanly: $msg"
fi

# Everything from here on, hyperfine and the measured processes included,
# runs on one CPU, the same one every time: less scheduler noise.
ncpu=$(nproc)
pinned="no (taskset not found or one CPU)"
if command -v taskset >/dev/null && ((ncpu > 1)); then
	cpu=$((ncpu - 1))
	taskset -cp "$cpu" $$ >/dev/null && pinned="to CPU $cpu"
fi

cc -std=gnu11 -O2 -U_FORTIFY_SOURCE -o "$out/passthrough" bench/passthrough.c
cc -std=gnu11 -O2 -D_FORTIFY_SOURCE=2 -o "$out/passthrough-fortify" bench/passthrough.c

printf 'otelpreload benchmarks\n'
printf '  library   %s (%s)\n' "$lib" "$build_type"
printf '  machine   %s CPUs, Linux %s, %s\n' "$ncpu" "$(uname -r)" \
	"$(getconf GNU_LIBC_VERSION 2>/dev/null || echo "libc unknown")"
printf '  pinned    %s\n' "$pinned"

# --- (a) start-up -----------------------------------------------------------
# "with" and "without" both go through env(1), so the only difference is the
# library; plain /bin/true is measured too, as the base of the percentage.
true_plain="/bin/true"
true_without="env -u LD_PRELOAD /bin/true"
true_with="env LD_PRELOAD=$lib /bin/true"

printf '\n(a) start-up of /bin/true\n'
if command -v hyperfine >/dev/null; then
	mode=hyperfine
	printf '  %s, %d runs each after %d warm-ups, commands side by side in one run\n' \
		"$(hyperfine --version)" "$runs" "$warmup"
	hyperfine -N --style none --warmup "$warmup" --runs "$runs" \
		--export-json "$out/startup.json" \
		-n plain "$true_plain" -n without "$true_without" -n with "$true_with" \
		>"$out/hyperfine.log" 2>&1 || { cat "$out/hyperfine.log" >&2; die "hyperfine failed"; }
else
	# Fallback: ten rounds of interleaved batches timed with bash's own
	# clock, so the three commands see the same machine state. The loop's
	# fork costs the same for each and cancels out of the difference.
	mode=loop
	batch=$(((runs + 9) / 10))
	printf '  hyperfine not found: bash loop, %d runs each in interleaved batches\n' \
		$((batch * 10))
	: >"$out/startup-loop.txt"
	for ((r = 0; r < 10; r++)); do
		for name in plain without with; do
			case $name in
			plain) read -ra cmd <<<"$true_plain" ;;
			without) read -ra cmd <<<"$true_without" ;;
			with) read -ra cmd <<<"$true_with" ;;
			esac
			for ((i = 0; i < warmup / 10 + 1; i++)); do "${cmd[@]}"; done
			t0=$EPOCHREALTIME
			for ((i = 0; i < batch; i++)); do "${cmd[@]}"; done
			t1=$EPOCHREALTIME
			printf '%s %s %s %s\n' "$name" "$batch" "$t0" "$t1" >>"$out/startup-loop.txt"
		done
	done
fi

python3 - "$out" "$mode" <<'EOF'
import json, math, os, statistics as st, sys

out, mode = sys.argv[1], sys.argv[2]
us = {}
if mode == "loop":
    # One value per batch: its mean run time. The sd below is then the
    # spread of batch means, not of single runs.
    for line in open(os.path.join(out, "startup-loop.txt")):
        name, n, t0, t1 = line.split()
        t0, t1 = (float(t.replace(",", ".")) for t in (t0, t1))
        us.setdefault(name, []).append((t1 - t0) * 1e6 / int(n))
else:
    for r in json.load(open(os.path.join(out, "startup.json")))["results"]:
        us[r["command"]] = [t * 1e6 for t in r["times"]]

def mean_sd(v):
    return st.mean(v), (st.stdev(v) if len(v) > 1 else 0.0)

labels = {"plain": "/bin/true",
          "without": "env /bin/true",
          "with": "env LD_PRELOAD=libotelpreload.so /bin/true"}
for k in ("plain", "without", "with"):
    m, sd = mean_sd(us[k])
    print("  %-44s %8.1f ± %6.1f µs  (median %.1f)" % (labels[k], m, sd, st.median(us[k])))
(mw, sw), (mo, so) = mean_sd(us["with"]), mean_sd(us["without"])
se = math.sqrt(sw ** 2 / len(us["with"]) + so ** 2 / len(us["without"]))
base = st.mean(us["plain"])
d = mw - mo
print("  %-44s %+8.1f ± %6.1f µs  = %+.1f%% of /bin/true's %.1f µs"
      % ("added by the library (with - without)", d, se, 100 * d / base, base))
print("  (± after a mean is the standard deviation%s; after the difference, its standard error)"
      % (" of batch means" if mode == "loop" else ""))
EOF

# --- (b) pass-through read/write -------------------------------------------
printf '\n(b) pass-through read()/write() on a pipe: %d write+read pairs per run,\n' "$pairs"
printf '    %d runs with and %d without, alternating; medians in ns per call\n' "$repeats" "$repeats"
missing=()
for sym in read write __read_chk; do
	nm -D --defined-only "$lib" 2>/dev/null | grep -qw "$sym" || missing+=("$sym")
done
if ((${#missing[@]})); then
	printf '    note: the library does not interpose %s; those calls cost it nothing\n' "${missing[*]}"
fi

measure() { # measure BINARY PRELOAD -> ns per call
	local o
	if [[ -n $2 ]]; then
		o=$(env LD_PRELOAD="$2" "$1" "$pairs")
	else
		o=$(env -u LD_PRELOAD "$1" "$pairs")
	fi
	printf '%s\n' "${o%% *}"
}

rows=$out/passthrough.txt
: >"$rows"
for variant in passthrough passthrough-fortify; do
	for ((r = 0; r < repeats; r++)); do
		if ((r % 2 == 0)); then
			printf '%s without %s\n' "$variant" "$(measure "$out/$variant" "")" >>"$rows"
			printf '%s with %s\n' "$variant" "$(measure "$out/$variant" "$lib")" >>"$rows"
		else
			printf '%s with %s\n' "$variant" "$(measure "$out/$variant" "$lib")" >>"$rows"
			printf '%s without %s\n' "$variant" "$(measure "$out/$variant" "")" >>"$rows"
		fi
	done
done

python3 - "$rows" <<'EOF'
import statistics as st, sys

v = {}
for line in open(sys.argv[1]):
    variant, which, ns = line.split()
    v.setdefault((variant, which), []).append(float(ns))
names = {"passthrough": "write + read",
         "passthrough-fortify": "write + __read_chk (_FORTIFY_SOURCE)"}
print("    %-38s %8s %8s %8s   %s" % ("", "without", "with", "added",
                                    "range without | with"))
for variant in ("passthrough", "passthrough-fortify"):
    wo, w = v[(variant, "without")], v[(variant, "with")]
    print("    %-38s %8.2f %8.2f %+8.2f   %.1f..%.1f | %.1f..%.1f"
          % (names[variant], st.median(wo), st.median(w),
             st.median(w) - st.median(wo), min(wo), max(wo), min(w), max(w)))
EOF

# --- (c) the same in instructions -------------------------------------------
# Instruction counts do not depend on what else the machine is doing. The
# library's start-up cost is the same at both N, so the growth between them
# is the per-call cost alone.
if command -v valgrind >/dev/null; then
	instructions() { # instructions BINARY PRELOAD N
		local o
		o=$(env ${2:+LD_PRELOAD="$2"} valgrind --tool=callgrind \
			--callgrind-out-file=/dev/null "$1" "$3" 2>&1 >/dev/null)
		sed -n 's/.*Collected : \([0-9]*\).*/\1/p' <<<"$o"
	}
	printf '\n(c) the same in instructions per call (callgrind, growth from 100000 to 200000 pairs)\n'
	printf '    %-38s %8s %8s %8s\n' "" without with added
	for variant in passthrough passthrough-fortify; do
		w1=$(instructions "$out/$variant" "$lib" 100000)
		w2=$(instructions "$out/$variant" "$lib" 200000)
		o1=$(instructions "$out/$variant" "" 100000)
		o2=$(instructions "$out/$variant" "" 200000)
		python3 -c '
import sys
name, w1, w2, o1, o2 = sys.argv[1], *map(int, sys.argv[2:])
calls = 200000
print("    %-38s %8.2f %8.2f %+8.2f"
      % (name, (o2 - o1) / calls, (w2 - w1) / calls, ((w2 - w1) - (o2 - o1)) / calls))
' "$([[ $variant == passthrough ]] && echo "write + read" || echo "write + __read_chk (_FORTIFY_SOURCE)")" \
			"$w1" "$w2" "$o1" "$o2"
	done
fi

# --- (d) one HTTP exchange, in instructions ----------------------------------
# bench/http_loop.c: keep-alive exchanges over loopback, client and server in
# one process, so both ends are traced (one CLIENT and one SERVER span each).
# Growth between two N, as in (c): the per-exchange cost of the engine alone
# (OTEL_TRACES_EXPORTER=none) and with OTLP encoding and export attempts (to
# a closed port on 127.0.0.1: encoding happens, sending fails at once).
if command -v valgrind >/dev/null; then
	cc -O2 -pthread -o "$out/http_loop" bench/http_loop.c
	loop_ins() { # loop_ins N ENV...
		local n=$1
		shift
		env "$@" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$out/http_loop" "$n" \
			2>&1 >/dev/null | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
	}
	printf '\n(d) one HTTP/1.1 exchange, both ends traced, in instructions (callgrind, growth from 2000 to 4000)\n'
	for mode in untraced engine export; do
		case $mode in
		untraced) e=() ;;
		engine) e=(LD_PRELOAD="$lib" OTEL_TRACES_EXPORTER=none) ;;
		# A queue that never fills: on the one CPU this script pins itself to,
		# the nice +10 exporter thread would otherwise drop spans, not encode them.
		export) e=(LD_PRELOAD="$lib" OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:1
			OTEL_BSP_SCHEDULE_DELAY=50 OTEL_BSP_MAX_QUEUE_SIZE=100000) ;;
		esac
		a=$(loop_ins 2000 "${e[@]}")
		b=$(loop_ins 4000 "${e[@]}")
		printf '    %-38s %8d per exchange (user space only)\n' "$mode" $(((b - a) / 2000))
	done
fi

printf '\nraw data: %s/\n' "$out"
