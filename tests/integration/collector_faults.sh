#!/bin/bash
# A misbehaving collector costs a traced program nothing it would notice.
#
# The workload is a real one: python3's urllib makes REQUESTS sequential
# requests for a 17 KB JSON document, a new connection each, to python3 -m
# http.server (not traced) and parses each answer, so the preloaded client
# makes one CLIENT span per request and the batch span processor exports
# batches while the loop runs (OTEL_BSP_SCHEDULE_DELAY=200).
# tests/support/fault_collector.py plays the collector, one misbehaviour per case: nothing listening, connections
# reset on accept, accepted but never read, read but never answered, a 200
# after 0.6 s (exports succeed but hold the worker), random bytes, a
# response that is not HTTP, 500, 503 (retryable: retried with backoff
# within the deadline), 429 with "Retry-After: 30" (far past the deadline).
# OTEL_BSP_EXPORT_TIMEOUT is 1000 ms throughout.
#
# Every case runs the workload untraced (no LD_PRELOAD) and traced, as
# pairs in alternating order, and checks:
#   1. time: the request loop's duration is measured inside the workload
#      (start-up and exit excluded); the median over the pairs of the
#      traced/untraced loop ratio is at most 1.10. The machine's speed
#      drifts over seconds, so a traced run is compared with the untraced
#      run next to it rather than the medians of two groups taken over a
#      minute. Likewise the median over the pairs of (traced wall time -
#      1.10 x untraced wall time) is at most OTEL_BSP_EXPORT_TIMEOUT (what
#      the exit flush may take) plus EXIT_SLACK_MS (thread wake-up and
#      teardown), and every traced run spends at most
#      OTEL_BSP_EXPORT_TIMEOUT + EXIT_HARD_MS more than the untraced median
#      outside its loop. This is a shared two-CPU machine: MIN_PAIRS pairs
#      decide when they pass; when they do not, the case is measured again,
#      up to MAX_PAIRS pairs, and then only pairs measured while the machine
#      was quiet count: a run is quiet when the CPU pressure stall
#      (/proc/pressure/cpu "some") during it was at most QUIET_PSI% of its
#      wall time, i.e. no other program competed for the CPUs. Over the
#      bound in MIN_PAIRS quiet pairs (of MAX_PAIRS) is a failure; over the
#      bound without enough quiet pairs, or when the test's time budget
#      (BUDGET_S) is spent before MAX_PAIRS, is inconclusive, and the test
#      then ends as skipped (77) once every other check has passed. Every
#      figure is printed;
#   2. memory: the peak RSS of every traced run (ru_maxrss from wait4) is
#      at most the untraced median plus FIXED_KB (the exporter module,
#      libcurl and its TLS libraries, the worker's stack and malloc arena:
#      about 6.5 MB measured) plus SPAN_KB for every span that can be held
#      at once: the queue (OTEL_BSP_MAX_QUEUE_SIZE) and the batch in flight
#      (min(512, queue)). A span is one struct op_span (1552 bytes on x86-64,
#      its inline attributes and string arena included) plus whatever
#      overflows to the heap, so 4 KB bounds it. Two cases use a small queue
#      that overflows;
#   3. output: nothing on stdout or stderr at the default log level;
#   4. the exit status is the workload's own (3), traced or not.
# The traced run of the third pair uses OTEL_LOG_LEVEL=info (its timing
# counts like the others) and must print exactly one
# "otelpreload: at exit: N spans exported, M lost (Q with the queue full,
# F in failed exports, U unsent when the exit wait ended)" line, with
# M = Q + F + U and N + M = REQUESTS (up to one batch less: the exporter
# thread still runs while the line is counted); N is 0 when the collector
# can take nothing and positive when it takes spans.
. "$(dirname "$0")/../support/lib.sh" "$@"
need "$LIB" "$BUILD/libotelpreload-exporter.so"

REQUESTS=800
EXPORT_TIMEOUT_MS=1000
MIN_PAIRS=3
MAX_PAIRS=12
QUIET_PSI=25
EXIT_SLACK_MS=250
EXIT_HARD_MS=1000
FIXED_KB=$((8 * 1024))
SPAN_KB=4
# Seconds of measuring after which no case is measured again (MIN_PAIRS
# pairs only), so a busy machine cannot stretch the test past its timeout.
BUDGET_S=90
FAULT=$SRC/tests/support/fault_collector.py
INCONCLUSIVE=()

# The workload: an API client. REQUESTS urllib requests for a 17 KB JSON
# document, each parsed; the loop's duration (ms) goes to a file, never to
# stdout; exit status 3.
mkdir -p "$T/www"
"$PYTHON" -c 'import json, sys
json.dump([{"id": i, "name": "item-%d" % i, "price": i * 1.25, "tags": ["a", "b"], "ok": True}
           for i in range(200)], sys.stdout)' >"$T/www/items.json"
cat >"$T/workload.py" <<'PY'
import json, sys, time, urllib.request
url, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t0 = time.monotonic()
for i in range(n):
    with urllib.request.urlopen("%s?page=%d" % (url, i)) as r:
        json.loads(r.read())
with open(out, "w") as f:
    f.write("%.1f\n" % ((time.monotonic() - t0) * 1000))
sys.exit(3)
PY

# The measuring wrapper (never preloaded itself): runs the command with
# stdout and stderr to files and prints "WALL_MS MAXRSS_KB STATUS CPU_MS
# PSI_PERCENT", the last being the CPU pressure stall during the run as a
# share of its wall time (0 without /proc/pressure/cpu).
cat >"$T/measure.py" <<'PY'
import os, subprocess, sys, time
def stall_us():
    try:
        with open("/proc/pressure/cpu") as f:
            return int(f.readline().split("total=")[1])
    except (OSError, IndexError, ValueError):
        return 0
out, err = sys.argv[1], sys.argv[2]
with open(out, "wb") as o, open(err, "wb") as e:
    s0, t0 = stall_us(), time.monotonic()
    p = subprocess.Popen(sys.argv[3:], stdout=o, stderr=e, stdin=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = (time.monotonic() - t0) * 1000
    stall = (stall_us() - s0) / 1000
print("%.1f %d %d %.1f %.0f" % (wall, ru.ru_maxrss, os.waitstatus_to_exitcode(status),
                               (ru.ru_utime + ru.ru_stime) * 1000, 100 * stall / wall))
PY
[ -r /proc/pressure/cpu ] || note "no /proc/pressure/cpu: every run counts as quiet"

# start_server: python3 -m http.server (a ThreadingHTTPServer, not traced)
# serving $T/www; sets URL. A new one per case: they stop by themselves
# after 100 s.
start_server() {
	start_http_server || fail "python3 -m http.server did not start"
	URL=http://127.0.0.1:$HPORT/items.json
	# Warm-up: the server's first requests are slower.
	"$PYTHON" "$T/workload.py" "$URL" 200 "$T/warm" && fail "the workload should exit with 3"
}

# start_fault MODE [ARGS...]: sets FPORT, FPID and FLOG.
start_fault() {
	local n=$((++OP_RECEIVERS))
	FLOG=$T/fault.$n.jsonl
	: >"$FLOG"
	spawn_server "fault_collector.py --mode $1" "$T/fport.$n" "$T/fault.$n.log" 10 \
		"$PYTHON" -u "$FAULT" --mode "$@" --port-file "$T/fport.$n" --log "$FLOG" --lifetime 100
	FPID=$SERVER_PID FPORT=$SERVER_PORT
}

# one_run CASE PAIR KIND(off|on|info) ENDPOINT [ENV=VALUE...]: one run of
# the workload, appended as "PAIR KIND WALL LOOP RSS CPU PSI" to
# $T/CASE.runs. Both kinds go through env(1), so the only difference is the
# environment.
one_run() {
	local name=$1 pair=$2 kind=$3 endpoint=$4 res wall rss rc cpu psi loop p=$T/$1.$2.$3
	local level=()
	shift 4
	rm -f "$p.loop"
	[ "$kind" = info ] && level=(OTEL_LOG_LEVEL=info)
	if [ "$kind" = off ]; then
		res=$("$PYTHON" "$T/measure.py" "$p.out" "$p.err" \
			env "$PYTHON" "$T/workload.py" "$URL" "$REQUESTS" "$p.loop")
	else
		res=$("$PYTHON" "$T/measure.py" "$p.out" "$p.err" \
			env LD_PRELOAD="$LIB" OTEL_EXPORTER_OTLP_ENDPOINT="$endpoint" \
			OTEL_BSP_SCHEDULE_DELAY=200 OTEL_BSP_EXPORT_TIMEOUT=$EXPORT_TIMEOUT_MS \
			"${level[@]}" "$@" "$PYTHON" "$T/workload.py" "$URL" "$REQUESTS" "$p.loop")
	fi
	read -r wall rss rc cpu psi <<<"$res"
	[ "$rc" = 3 ] || { cat "$p.err" >&2; fail "$name ($kind): exit status $rc, expected 3"; }
	[ -s "$p.loop" ] || fail "$name ($kind): the workload did not finish its loop"
	loop=$(cat "$p.loop")
	[ -s "$p.out" ] && { cat "$p.out" >&2; fail "$name ($kind): printed on stdout"; }
	if [ "$kind" != info ] && [ -s "$p.err" ]; then
		cat "$p.err" >&2
		fail "$name ($kind): printed on stderr at the default log level"
	fi
	echo "$pair $kind $wall $loop $rss $cpu $psi" >>"$T/$name.runs"
}

# judge CASE QUEUE BATCH FINAL: checks the runs so far. FINAL: 0 (more
# pairs may follow), 1 (MAX_PAIRS reached) or 2 (the time budget is spent
# before MAX_PAIRS). Exit status 0: pass; 1: failed; 2: measure again;
# 3: inconclusive (FINAL > 0 only).
judge() {
	"$PYTHON" - "$T/$1.runs" "$2" "$3" "$4" "$EXPORT_TIMEOUT_MS" "$EXIT_SLACK_MS" \
		"$EXIT_HARD_MS" "$FIXED_KB" "$SPAN_KB" "$MIN_PAIRS" "$QUIET_PSI" <<'PY'
import statistics as st, sys
(queue, batch, final, timeout, slack, hard_ms, fixed, span, min_pairs,
 quiet_psi) = map(int, sys.argv[2:])
pairs = {}
for line in open(sys.argv[1]):
    p, kind, wall, loop, rss, cpu, psi = line.split()
    pairs.setdefault(int(p), {})["off" if kind == "off" else "on"] = dict(
        wall=float(wall), loop=float(loop), rss=int(rss), cpu=float(cpu), psi=float(psi))
pairs = [pairs[k] for k in sorted(pairs)]
med = lambda ps, side, f: st.median(p[side][f] for p in ps)
show = lambda ps, side: " ".join("%.0f%s" % (p[side]["loop"], "" if p[side]["psi"] <= quiet_psi
                                             else "*") for p in ps)

# Hard checks, on every run: exit and memory.
rest_off = st.median(p["off"]["wall"] - p["off"]["loop"] for p in pairs)
exit_on = [p["on"]["wall"] - p["on"]["loop"] - rest_off for p in pairs]
rss_off, rss_on = med(pairs, "off", "rss"), max(p["on"]["rss"] for p in pairs)
rss_bound = fixed + (queue + batch) * span
print("   %d pairs; loop ms untraced %s | traced %s  (* = CPU contended)"
      % (len(pairs), show(pairs, "off"), show(pairs, "on")))
print("   start-up+exit beyond untraced: median %.0f, max %.0f ms (bound %d); CPU median %.0f"
      " -> %.0f ms; peak RSS untraced %.1f MB, traced max %.1f MB (+%.1f MB, bound +%.1f MB ="
      " %d MB + (queue %d + batch %d) x %d KB)"
      % (st.median(exit_on), max(exit_on), timeout + hard_ms, med(pairs, "off", "cpu"),
         med(pairs, "on", "cpu"), rss_off / 1024, rss_on / 1024, (rss_on - rss_off) / 1024,
         rss_bound / 1024, fixed // 1024, queue, batch, span))
hard = []
if max(exit_on) > timeout + hard_ms:
    hard.append("a traced run spent %.0f ms more than untraced outside its loop (bound %d ms)"
                % (max(exit_on), timeout + hard_ms))
if rss_on - rss_off > rss_bound:
    hard.append("peak RSS grew by %d KB, bound %d KB" % (rss_on - rss_off, rss_bound))
if hard:
    print("   FAILED: " + "; ".join(hard), file=sys.stderr)
    sys.exit(1)

# Time. The machine's speed drifts over seconds, so each traced run is
# compared with the untraced run next to it: the median of the per-pair
# loop ratios, and of the per-pair wall-time excess over 110% untraced.
def over(ps, what):
    ratios = sorted(p["on"]["loop"] / p["off"]["loop"] for p in ps)
    ratio = st.median(ratios)
    excess = st.median(p["on"]["wall"] - 1.10 * p["off"]["wall"] for p in ps)
    print("   %s: loop median %.0f -> %.0f ms; traced/untraced per pair %s, median %.3f (bound"
          " 1.10); wall median %.0f -> %.0f ms, beyond 110%% of untraced by %.0f ms (median of"
          " pairs, bound %d)" % (what, med(ps, "off", "loop"), med(ps, "on", "loop"),
                                 " ".join("%.2f" % r for r in ratios), ratio,
                                 med(ps, "off", "wall"), med(ps, "on", "wall"), excess,
                                 timeout + slack))
    return ratio > 1.10 or excess > timeout + slack
if not over(pairs, "all %d pairs" % len(pairs)):
    sys.exit(0)
quiet = [p for p in pairs if p["off"]["psi"] <= quiet_psi and p["on"]["psi"] <= quiet_psi]
if len(quiet) >= min_pairs:
    if not over(quiet, "%d quiet pairs" % len(quiet)):
        sys.exit(0)
    if final == 1:
        print("   FAILED: over the time bound in %d pairs measured while the machine was quiet"
              % len(quiet), file=sys.stderr)
        sys.exit(1)
    if final == 2:
        print("   inconclusive: over the bound after %d pairs, and the test's time budget is"
              " spent" % len(pairs))
        sys.exit(3)
elif final:
    print("   inconclusive: over the bound, but only %d of %d pairs were measured while the"
          " machine was quiet" % (len(quiet), len(pairs)))
    sys.exit(3)
sys.exit(2)
PY
}

# fault_case CASE ENDPOINT EXPECT [ENV=VALUE...]: the runs and checks above.
# EXPECT: "none" (no span can be exported) or "some" (some must be).
fault_case() {
	local name=$1 endpoint=$2 expect=$3 pair=0 rc queue=2048 batch final kv
	shift 3
	for kv in "$@"; do
		case $kv in OTEL_BSP_MAX_QUEUE_SIZE=*) queue=${kv#*=} ;; esac
	done
	batch=$((queue < 512 ? queue : 512))
	: >"$T/$name.runs"
	note "$name: $REQUESTS requests, queue $queue${*:+, $*}"
	start_server
	while :; do
		pair=$((pair + 1))
		local on=on
		[ "$pair" = 3 ] && on=info
		if ((pair % 2)); then
			one_run "$name" "$pair" off "$endpoint"
			one_run "$name" "$pair" "$on" "$endpoint" "$@"
		else
			one_run "$name" "$pair" "$on" "$endpoint" "$@"
			one_run "$name" "$pair" off "$endpoint"
		fi
		((pair < MIN_PAIRS)) && continue
		final=0
		if ((pair >= MAX_PAIRS)); then
			final=1
		elif ((SECONDS - START_S >= BUDGET_S)); then
			final=2
		fi
		judge "$name" "$queue" "$batch" "$final"
		rc=$?
		case $rc in
		0) break ;;
		1) fail "$name: see above" ;;
		3) INCONCLUSIVE+=("$name"); break ;;
		esac
		note "$name: over the bound, measuring again"
	done
	kill "$HPID" 2>/dev/null

	# The info run: exactly one at-exit line, no span counted twice.
	local err=$T/$name.3.info.err n exported lost full failed unsent line
	n=$(grep -c '^otelpreload: at exit: ' "$err")
	[ "$n" = 1 ] || { cat "$err" >&2; fail "$name: $n 'at exit' lines with OTEL_LOG_LEVEL=info, expected 1"; }
	grep -v '^otelpreload: ' "$err" >&2 && fail "$name: stderr lines without the otelpreload: prefix"
	line=$(grep '^otelpreload: at exit: ' "$err")
	read -r exported lost full failed unsent < <(sed -n \
		's/^otelpreload: at exit: \([0-9]*\) spans exported, \([0-9]*\) lost (\([0-9]*\) with the queue full, \([0-9]*\) in failed exports, \([0-9]*\) unsent when the exit wait ended)$/\1 \2 \3 \4 \5/p' \
		<<<"$line")
	[ -n "$unsent" ] || fail "$name: unexpected at-exit line: $line"
	[ $((full + failed + unsent)) = "$lost" ] || fail "$name: $line: lost is not the sum of its parts"
	[ $((exported + lost)) -le "$REQUESTS" ] ||
		fail "$name: $line: more spans than the $REQUESTS requests"
	# Every span is in one figure, unless a batch ended while the line was being
	# counted (the exporter thread still runs when the exit wait is over).
	[ $((REQUESTS - exported - lost)) -le 512 ] ||
		fail "$name: $line: $((REQUESTS - exported - lost)) of $REQUESTS spans in neither figure"
	case $expect in
	none) [ "$exported" = 0 ] || fail "$name: $line: nothing can have been exported" ;;
	some) [ "$exported" -gt 0 ] || fail "$name: $line: the collector took spans, none counted" ;;
	esac
	note "$name: info run: ${line#otelpreload: }; $((REQUESTS - exported - lost)) spans in" \
		"neither figure; $(($(wc -l <"$err") - 1)) other lines; the collector saw" \
		"$(grep -c accept "$FLOG") connections and $(grep -c request "$FLOG") requests in all runs"
}

START_S=$SECONDS

# Unreachable: nothing listens.
FLOG=$T/none.jsonl
: >"$FLOG"
fault_case unreachable "http://127.0.0.1:$(closed_port)" none

start_fault refuse
fault_case refuse "http://127.0.0.1:$FPORT" none
kill "$FPID"

# Never reads: the sender blocks in send(); a queue of 128 overflows.
start_fault noread
fault_case noread "http://127.0.0.1:$FPORT" none OTEL_BSP_MAX_QUEUE_SIZE=128
kill "$FPID"

start_fault blackhole
fault_case blackhole "http://127.0.0.1:$FPORT" none
kill "$FPID"

# Answers 200 after 0.6 s: each export succeeds but holds the worker, and a
# queue of 256 overflows meanwhile.
start_fault slow --delay 0.6
fault_case slow "http://127.0.0.1:$FPORT" some OTEL_BSP_MAX_QUEUE_SIZE=256
kill "$FPID"

start_fault garbage
fault_case garbage "http://127.0.0.1:$FPORT" none
kill "$FPID"

start_fault bogus
fault_case bogus "http://127.0.0.1:$FPORT" none
kill "$FPID"

start_fault status --status 500
fault_case http500 "http://127.0.0.1:$FPORT" none
kill "$FPID"

# Retryable: retried with backoff, never past the deadline.
start_fault status --status 503
fault_case http503 "http://127.0.0.1:$FPORT" none
kill "$FPID"

# A Retry-After far past the deadline must not hold the program.
start_fault status --status 429 --retry-after 30
fault_case http429 "http://127.0.0.1:$FPORT" none
kill "$FPID"

note "measured in $((SECONDS - START_S)) s"
if ((${#INCONCLUSIVE[@]})); then
	echo "SKIP: $TEST_NAME: every check passed but the timing of ${INCONCLUSIVE[*]}, which" \
		"could not be measured on a quiet machine (see the figures above)"
	exit 77
fi
pass
