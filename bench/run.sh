#!/usr/bin/env bash
# Prints what libotelpreload.so costs a program that it does not trace:
#   (a) process start-up of /bin/true, with and without the library;
#   (b) a pass-through read()/write() on a pipe and send()/recv() on a
#       loopback TCP connection (bench/passthrough.c), in nanoseconds and,
#       with valgrind, (c) in instructions; (d) one traced HTTP exchange in
#       instructions.
# Figures only: timing never makes this script fail. See bench/README.md.
#
# Environment: OTELPRELOAD_LIBRARY (measure that file instead of building
# build/libotelpreload.so), BENCH_RUNS (1000 start-up rounds), BENCH_WARMUP (20),
# BENCH_PAIRS (5000000), BENCH_TCP_PAIRS (500000), BENCH_REPEATS (5),
# BENCH_CALLGRIND (all: (c) and (d); calls: (c) only; none).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs=${BENCH_RUNS:-1000}
warmup=${BENCH_WARMUP:-20}
pairs=${BENCH_PAIRS:-5000000}
tcp_pairs=${BENCH_TCP_PAIRS:-500000}
repeats=${BENCH_REPEATS:-5}
callgrind=${BENCH_CALLGRIND:-all}
out=build/bench
mkdir -p "$out"

# Nothing of the caller's may reach the measured processes.
unset LD_PRELOAD OTELPRELOAD_PROCESS_SPAN

die() {
	printf 'bench: %s\n' "$*" >&2
	exit 1
}

[[ $callgrind == all || $callgrind == calls || $callgrind == none ]] ||
	die "BENCH_CALLGRIND=$callgrind is not all, calls or none"
command -v valgrind >/dev/null || callgrind=none

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

# Everything from here on, the measured processes included,
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
# bench/startup.c starts /bin/true plain, through the same environment
# without the library and with it, the three in a rotating order within every
# round, so they see the same machine; "added" is the median of the per-round
# with-minus-without differences, which a drifting VM cannot bias the way
# variant-after-variant runs (hyperfine's) can.
cc -std=gnu11 -O2 -o "$out/startup" bench/startup.c
printf '\n(a) start-up of /bin/true\n'
printf '  bench/startup.c: %d rounds after %d warm-ups; each round runs plain, without\n' "$runs" "$warmup"
printf '  and with the library in a rotating order (posix_spawn to waitpid)\n'
"$out/startup" "$runs" "$warmup" "$lib" "$out/startup.json" || die "bench/startup.c failed"

python3 - "$out" <<'EOF'
import json, os, statistics as st, sys

d = json.load(open(os.path.join(sys.argv[1], "startup.json")))
us = {r["command"]: [t * 1e6 for t in r["times"]] for r in d["results"]}
added = sorted(t * 1e6 for t in d["added"])
labels = {"plain": "/bin/true",
          "without": "/bin/true, env without the library",
          "with": "/bin/true, LD_PRELOAD=libotelpreload.so"}
for k in ("plain", "without", "with"):
    q = st.quantiles(us[k], n=4)
    print("  %-44s median %7.1f µs  (quartiles %.1f, %.1f)" % (labels[k], st.median(us[k]), q[0], q[2]))
base = st.median(us["plain"])
m = st.median(added)
q = st.quantiles(added, n=4)
print("  %-44s median %+7.1f µs  (quartiles %+.1f, %+.1f) = %+.1f%% of %.1f µs"
      % ("added (with - without, per round)", m, q[0], q[2], 100 * m / base, base))
EOF

# --- (b) pass-through read/write, send/recv ---------------------------------
printf '\n(b) pass-through read()/write() on a pipe (%d pairs per run) and send()/recv()\n' "$pairs"
printf '    on a loopback TCP connection without HTTP (%d pairs per run): %d runs with\n' \
	"$tcp_pairs" "$repeats"
printf '    and %d without, alternating; medians in ns per call\n' "$repeats"
missing=()
for sym in read write __read_chk send recv; do
	nm -D --defined-only "$lib" 2>/dev/null | grep -qw "$sym" || missing+=("$sym")
done
if ((${#missing[@]})); then
	printf '    note: the library does not interpose %s; those calls cost it nothing\n' "${missing[*]}"
fi

# The variants: passthrough, passthrough-fortify and passthrough-tcp (the
# first binary with the "tcp" argument).
variant_cmd() { # variant_cmd VARIANT N -> the command line
	case $1 in
	passthrough-tcp) printf '%s %s tcp' "$out/passthrough" "$2" ;;
	*) printf '%s %s' "$out/$1" "$2" ;;
	esac
}

measure() { # measure VARIANT PRELOAD -> ns per call
	local o n=$pairs cmd
	[[ $1 != passthrough-tcp ]] || n=$tcp_pairs
	read -ra cmd <<<"$(variant_cmd "$1" "$n")"
	if [[ -n $2 ]]; then
		o=$(env LD_PRELOAD="$2" "${cmd[@]}")
	else
		o=$(env -u LD_PRELOAD "${cmd[@]}")
	fi
	printf '%s\n' "${o%% *}"
}

rows=$out/passthrough.txt
: >"$rows"
for variant in passthrough passthrough-fortify passthrough-tcp; do
	for ((r = 0; r < repeats; r++)); do
		if ((r % 2 == 0)); then
			printf '%s without %s\n' "$variant" "$(measure "$variant" "")" >>"$rows"
			printf '%s with %s\n' "$variant" "$(measure "$variant" "$lib")" >>"$rows"
		else
			printf '%s with %s\n' "$variant" "$(measure "$variant" "$lib")" >>"$rows"
			printf '%s without %s\n' "$variant" "$(measure "$variant" "")" >>"$rows"
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
         "passthrough-fortify": "write + __read_chk (_FORTIFY_SOURCE)",
         "passthrough-tcp": "send + recv (loopback TCP)"}
print("    %-38s %8s %8s %8s   %s" % ("", "without", "with", "added",
                                    "range without | with"))
for variant in ("passthrough", "passthrough-fortify", "passthrough-tcp"):
    wo, w = v[(variant, "without")], v[(variant, "with")]
    print("    %-38s %8.2f %8.2f %+8.2f   %.1f..%.1f | %.1f..%.1f"
          % (names[variant], st.median(wo), st.median(w),
             st.median(w) - st.median(wo), min(wo), max(wo), min(w), max(w)))
EOF

# --- (c) the same in instructions -------------------------------------------
# Instruction counts do not depend on what else the machine is doing. The
# library's start-up cost is the same at both N, so the growth between them
# is the per-call cost alone. One line per variant in instructions.txt:
# "VARIANT WITHOUT WITH" (instructions per call).
rm -f "$out/instructions.txt"
if [[ $callgrind != none ]]; then
	instructions() { # instructions VARIANT PRELOAD N
		local o cmd
		read -ra cmd <<<"$(variant_cmd "$1" "$3")"
		o=$(env ${2:+LD_PRELOAD="$2"} valgrind --tool=callgrind \
			--callgrind-out-file=/dev/null "${cmd[@]}" 2>&1 >/dev/null)
		sed -n 's/.*Collected : \([0-9]*\).*/\1/p' <<<"$o"
	}
	printf '\n(c) the same in instructions per call (callgrind, growth from N to 2N pairs:\n'
	printf '    N = 100000 on the pipe, 20000 on TCP)\n'
	printf '    %-38s %8s %8s %8s\n' "" without with added
	: >"$out/instructions.txt"
	for variant in passthrough passthrough-fortify passthrough-tcp; do
		n=100000
		[[ $variant != passthrough-tcp ]] || n=20000
		w1=$(instructions "$variant" "$lib" "$n")
		w2=$(instructions "$variant" "$lib" $((2 * n)))
		o1=$(instructions "$variant" "" "$n")
		o2=$(instructions "$variant" "" $((2 * n)))
		python3 -c '
import sys
variant, name, rows = sys.argv[1], sys.argv[2], sys.argv[8]
w1, w2, o1, o2, n = map(int, sys.argv[3:8])
calls = 2 * n
wo, w = (o2 - o1) / calls, (w2 - w1) / calls
print("    %-38s %8.2f %8.2f %+8.2f" % (name, wo, w, w - wo))
open(rows, "a").write("%s %.2f %.2f\n" % (variant, wo, w))
' "$variant" "$(case $variant in
			passthrough) echo "write + read" ;;
			passthrough-fortify) echo "write + __read_chk (_FORTIFY_SOURCE)" ;;
			*) echo "send + recv (loopback TCP)" ;;
			esac)" "$w1" "$w2" "$o1" "$o2" "$n" "$out/instructions.txt"
	done
fi

# --- (d) one HTTP exchange, in instructions ----------------------------------
# bench/http_loop.c: keep-alive exchanges over loopback, client and server in
# one process, so both ends are traced (one CLIENT and one SERVER span each).
# Growth between two N, as in (c): the per-exchange cost of the engine alone
# (OTEL_TRACES_EXPORTER=none) and with OTLP encoding and export attempts (to
# a closed port on 127.0.0.1: encoding happens, sending fails at once).
if [[ $callgrind == all ]]; then
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
