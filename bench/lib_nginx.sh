# shellcheck shell=bash
# Sourced by bench/http.sh and bench/https.sh (bash, set -euo pipefail, run
# from the top of the repository): everything the two share. wrk against two
# nginx instances serving a small static file on 127.0.0.1, one without the
# library and one with it, exporting to a local receiver; alternating rounds;
# figures only. See bench/README.md.
#
# The calling script runs, in this order:
#   bench_setup NAME       knobs, checks, build; output in build/bench/NAME/
#   bench_receiver         the OTLP receiver (sink or node)
#   bench_servers          both nginx instances, the library checked in them
#   bench_header TITLE DESC [LINE...]
#                          what is measured (DESC: nginx's transport; each
#                          LINE is printed after nginx's)
#   bench_measure NOTE     warm-up, the rounds, the medians (NOTE: last line)
#   bench_exports          what the receiver got; sets exported_spans
#   bench_footer           what the traced nginx logged, the load, raw data
# Before bench_servers it may set: scheme (http or https), listen_opts (added
# to nginx's listen directive, e.g. " ssl"), server_conf (lines added to
# nginx's server block), curl_opts (an array, for the readiness probe).
# The knobs are read from the environment: see the top of bench/http.sh.

# shellcheck source=bench/lib_sink.sh
source bench/lib_sink.sh

scheme=http
listen_opts=""
server_conf=""
curl_opts=()

die() {
	printf 'bench: %s\n' "$*" >&2
	exit 1
}

bench_setup() { # bench_setup NAME
	bench_name=$1
	rounds=${BENCH_ROUNDS:-3}
	duration=${BENCH_DURATION:-10}
	conns=${BENCH_CONNECTIONS:-10}
	threads=${BENCH_THREADS:-1}
	size=${BENCH_FILE_SIZE:-1024}
	given_lib=${OTELPRELOAD_LIBRARY:-}
	read -ra traced_env <<<"${BENCH_TRACED_ENV:-}"
	receiver=${BENCH_RECEIVER:-sink}
	[[ $receiver == sink || $receiver == node ]] || die "BENCH_RECEIVER=$receiver is not sink or node"
	# The sink cannot count spans: the library reports each export at debug level.
	[[ $receiver == sink ]] && traced_env+=(OTEL_LOG_LEVEL=debug)
	out=build/bench/$bench_name
	mkdir -p build/bench

	# Nothing of the caller's may reach the measured processes.
	unset LD_PRELOAD
	local v kv
	for v in $(env | sed -n 's/^\(OTEL[A-Z0-9_]*\)=.*/\1/p'); do unset "$v"; done
	unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

	for kv in "${traced_env[@]}"; do
		[[ $kv =~ ^[A-Za-z_][A-Za-z0-9_]*=[^\;\'\"]*$ ]] || die "BENCH_TRACED_ENV: '$kv' is not NAME=VALUE"
	done
	for v in python3 wrk curl node; do
		command -v "$v" >/dev/null || die "$v is needed (bash scripts/deps.sh)"
	done
	nginx=$(command -v nginx || true)
	[[ -n $nginx ]] || { [[ -x /usr/sbin/nginx ]] && nginx=/usr/sbin/nginx; } ||
		die "nginx is needed (bash scripts/deps.sh installs nginx-light)"
	[[ -d tests/node_modules/@opentelemetry/otlp-transformer ]] ||
		die "tests/node_modules is missing: bash scripts/deps.sh (npm ci in tests/)"

	if [[ -n $given_lib ]]; then
		lib=$given_lib
		build_type="given by OTELPRELOAD_LIBRARY"
	else
		lib=build/libotelpreload.so
		local log=build/bench/$bench_name-build.log
		# Always ask the build system: it rebuilds only what changed, so the
		# figures are never those of a stale library.
		if ! { [[ -f build/CMakeCache.txt ]] ||
			cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo; } >"$log" 2>&1 ||
			! cmake --build build -j2 --target libotelpreload libotelpreload-exporter >>"$log" 2>&1; then
			cat "$log" >&2
			die "building the library failed"
		fi
		build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' build/CMakeCache.txt)
	fi
	[[ -f $lib ]] || die "$lib does not exist"
	lib=$(realpath "$lib")
	[[ $lib != *[[:space:]:]* ]] || die "$lib: a preloaded path cannot contain ':' or blanks"
	[[ -f $(dirname "$lib")/libotelpreload-exporter.so ]] ||
		die "$(dirname "$lib")/libotelpreload-exporter.so is missing: nothing could be exported"
	local msg
	if ! msg=$(env LD_PRELOAD="$lib" /bin/true 2>&1) || [[ -n $msg ]]; then
		die "LD_PRELOAD=$lib /bin/true does not run cleanly: $msg"
	fi

	# A fresh directory per run; what the previous run left is removed.
	rm -rf "$out"
	mkdir -p "$out"
	out=$(realpath "$out")
	hz=$(getconf CLK_TCK)

	# --- CPUs -----------------------------------------------------------------
	# nginx (both instances) on one CPU, wrk on another, the receiver on a
	# third when there is one, else with wrk: the server under test never
	# shares its CPU with the load generator. The library's exporter thread
	# runs in the traced nginx, so it shares nginx's CPU, as in a one-CPU
	# container.
	ncpu=$(nproc)
	pin_nginx=() pin_wrk=() pin_recv=()
	pinned="no (taskset not found or one CPU)"
	if command -v taskset >/dev/null && ((ncpu > 1)); then
		local c_nginx=$((ncpu - 1)) c_wrk=$((ncpu - 2)) c_recv=$((ncpu > 2 ? ncpu - 3 : ncpu - 2))
		pin_nginx=(taskset -c "$c_nginx") pin_wrk=(taskset -c "$c_wrk") pin_recv=(taskset -c "$c_recv")
		pinned="nginx on CPU $c_nginx, wrk on CPU $c_wrk, receiver on CPU $c_recv"
	fi

	PIDS=()
	trap cleanup EXIT
}

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}

wait_file() { # wait_file FILE SECONDS
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		[[ -s $1 ]] && return 0
		sleep 0.05
	done
	return 1
}

# cpu_ticks PID...: user + system clock ticks of these processes, all their
# threads included (fields 14 and 15 of /proc/PID/stat).
cpu_ticks() {
	local p t=0 st fields
	for p in "$@"; do
		st=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		read -ra fields <<<"${st##*) }"
		t=$((t + fields[11] + fields[12]))
	done
	echo "$t"
}

# --- the receiver ---------------------------------------------------------------
bench_receiver() {
	if [[ $receiver == node ]]; then
		local lifetime=$((rounds * 2 * (duration + 2) + 2 * 3 + 120))
		# Spans are decoded (the receiver's real work) but not kept: hundreds
		# of thousands of JSON lines would fill the disk. The request log
		# holds the span count of every export.
		"${pin_recv[@]}" node tests/support/otlp_receiver.mjs --port-file "$out/receiver.port" \
			--out /dev/null --requests "$out/receiver-requests.jsonl" --lifetime "$lifetime" \
			>"$out/receiver.log" 2>&1 &
		RPID=$!
		PIDS+=("$RPID")
		wait_file "$out/receiver.port" 15 || { cat "$out/receiver.log" >&2; die "the OTLP receiver did not start"; }
		endpoint=http://127.0.0.1:$(cat "$out/receiver.port")
		touch "$out/receiver-requests.jsonl"
	else
		sink=$out/sink
		# shellcheck disable=SC2016 # nginx's variables
		start_sink "$sink" '$status $request_length' 1024
		RPID=$sink_pid
		endpoint=http://127.0.0.1:$sink_port
	fi
}

# --- two nginx instances, one without and one with the library ------------------
# start_nginx NAME PRELOAD(0|1) [NAME=VALUE...]: with PRELOAD 1 the NAME=VALUE
# pairs come after the traced defaults (always_on, the receiver, BENCH_TRACED_ENV)
# and override them, e.g. OTEL_SDK_DISABLED=true (bench/suite.sh).
declare -A PORT MASTER
start_nginx() {
	local name=$1 pre=$2 prefix=$out/nginx-$1 port i keep="" kv extra=""
	shift 2
	[[ -z $server_conf ]] || extra=$'\n'$server_conf
	port=$(free_port)
	mkdir -p "$prefix/www" "$prefix/tmp"
	cp "$out/small.html" "$prefix/www/"
	# nginx empties its workers' environment; keeping the library's variables
	# makes the figures independent of when the library reads them.
	for kv in OTEL_EXPORTER_OTLP_ENDPOINT OTEL_TRACES_SAMPLER OTEL_SERVICE_NAME "${traced_env[@]}" "$@"; do
		keep+="env ${kv%%=*};"$'\n'
	done
	cat >"$prefix/nginx.conf" <<EOF
# generated by bench/$bench_name.sh
$(nginx_main_conf "$prefix" on)
$keep
events {
    worker_connections 1024;
}
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    default_type text/html;
$(nginx_temp_paths "$prefix")
    server {
        listen 127.0.0.1:$port$listen_opts;
        root $prefix/www;$extra
    }
}
EOF
	if ((pre)); then
		"${pin_nginx[@]}" env LD_PRELOAD="$lib" OTEL_EXPORTER_OTLP_ENDPOINT="$endpoint" \
			OTEL_TRACES_SAMPLER=always_on OTEL_SERVICE_NAME=nginx-bench "${traced_env[@]}" "$@" \
			"$nginx" -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" \
			>"$prefix/stdout.log" 2>&1 &
	else
		"${pin_nginx[@]}" "$nginx" -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" \
			>"$prefix/stdout.log" 2>&1 &
	fi
	MASTER[$name]=$!
	PIDS+=($!)
	PORT[$name]=$port
	for ((i = 0; i < 100; i++)); do
		curl --noproxy '*' -sf "${curl_opts[@]}" -o /dev/null "$scheme://127.0.0.1:$port/small.html" && return 0
		kill -0 "${MASTER[$name]}" 2>/dev/null || break
		sleep 0.1
	done
	cat "$prefix/error.log" "$prefix/stdout.log" >&2 2>/dev/null || true
	die "nginx ($name) did not start"
}

workers_of() { pgrep -P "${MASTER[$1]}" || true; }

bench_servers() {
	head -c "$size" /dev/zero | tr '\0' 'x' >"$out/small.html"
	start_nginx without 0
	start_nginx with 1
	probes=1 # the readiness curl above reached the traced nginx once

	# The library must really be in the traced worker, and only there.
	local w
	for w in $(workers_of with); do
		grep -q libotelpreload "/proc/$w/maps" || die "the library is not loaded in nginx's worker $w"
	done
	for w in $(workers_of without); do
		! grep -q libotelpreload "/proc/$w/maps" || die "the library leaked into the untraced nginx"
	done
}

bench_header() { # bench_header TITLE NGINX-TRANSPORT [LINE...]: LINEs follow nginx's
	printf '%s\n' "$1"
	printf '  library   %s (%s)\n' "$lib" "$build_type"
	printf '  machine   %s CPUs, Linux %s, %s\n' "$ncpu" "$(uname -r)" \
		"$(getconf GNU_LIBC_VERSION 2>/dev/null || echo "libc unknown")"
	printf '  nginx     %s, 1 worker, %s; pinned: %s\n' \
		"$("$nginx" -v 2>&1 | sed 's/^nginx version: //')" "$2" "$pinned"
	shift 2
	if (($#)); then printf '%s\n' "$@"; fi
	printf '  wrk       -t%d -c%d -d%ds --latency; %d rounds, order alternating\n' \
		"$threads" "$conns" "$duration" "$rounds"
	printf '  traced    LD_PRELOAD, OTEL_TRACES_SAMPLER=always_on, OTLP/HTTP to the local\n'
	printf '            %s receiver (%s), default OTEL_BSP_* settings\n' "$receiver" "$endpoint"
	if ((${#traced_env[@]})); then printf '            plus %s\n' "${traced_env[*]}"; fi
	printf '  CPU/req   user+system time of the nginx worker, all its threads, per request\n'
	printf '  load      %s (1, 5, 15 min) at the start: other work on the machine moves every figure\n' \
		"$(cut -d' ' -f1-3 /proc/loadavg)"
}

# The statistics: "row RUNS_LINE" prints one run, "summary RUNS_FILE NOTE" the
# medians. A runs line is: round server wrk-output worker-ticks receiver-ticks.
stats_py='
import re, statistics as st, sys
HZ = int(sys.argv[1])
UNIT = {"us": 1, "ms": 1e3, "s": 1e6, "m": 6e7}
def run(line):
    r, name, path, wt, rt = line.split()
    text = open(path).read()
    lat = {p: float(x) * UNIT[u] for p, x, u in
           re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)}
    rps = float(re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M).group(1))
    n = int(re.search(r"(\d+) requests in", text).group(1))
    m = re.search(r"Socket errors: (.*)", text)
    errors = m.group(1).strip() if m else "0"
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        errors += " non-2xx " + m.group(1)
    return dict(round=int(r), name=name, rps=rps, p50=lat["50"], p99=lat["99"],
                cpu=int(wt) * 1e6 / HZ / max(n, 1), recv=int(rt) / HZ, errors=errors)
if sys.argv[2] == "row":
    x = run(sys.argv[3])
    print("  %-6d %-8s %12.1f %10.1f %10.1f %10.2f   %s"
          % (x["round"], x["name"], x["rps"], x["p50"], x["p99"], x["cpu"], x["errors"]))
    sys.exit(0)
runs = [run(l) for l in open(sys.argv[3]) if l.strip()]
v = {k: sorted((x for x in runs if x["name"] == k), key=lambda x: x["round"])
     for k in ("without", "with")}
med = {k: {f: st.median(x[f] for x in v[k]) for f in ("rps", "p50", "p99", "cpu")} for k in v}
recv = {k: sum(x["recv"] for x in v[k]) for k in v}
ratios = ", ".join("%.3f" % (w["rps"] / o["rps"]) for w, o in zip(v["with"], v["without"]))
added = ", ".join("%+.1f" % (w["p99"] - o["p99"]) for w, o in zip(v["with"], v["without"]))
W, O = med["with"], med["without"]
print()
print("  medians over %d rounds   %12s %12s   %s" % (len(v["with"]), "without", "with", "with vs without"))
print("  requests/s               %12.1f %12.1f   ratio %.3f (per round %s)"
      % (O["rps"], W["rps"], W["rps"] / O["rps"], ratios))
print("  p50 latency (µs)         %12.1f %12.1f   %+.1f µs" % (O["p50"], W["p50"], W["p50"] - O["p50"]))
print("  p99 latency (µs)         %12.1f %12.1f   %+.1f µs added (per round %s)"
      % (O["p99"], W["p99"], W["p99"] - O["p99"], added))
print("  nginx CPU per request    %12.2f %12.2f   %+.2f µs" % (O["cpu"], W["cpu"], W["cpu"] - O["cpu"]))
print("  receiver CPU in the runs %11.1fs %11.1fs" % (recv["without"], recv["with"]))
print("  " + sys.argv[4])
'

run_wrk() { # run_wrk NAME SECONDS FILE
	"${pin_wrk[@]}" wrk -t"$threads" -c"$conns" -d"$2"s --latency \
		"$scheme://127.0.0.1:${PORT[$1]}/small.html" >"$3" 2>&1 ||
		{ cat "$3" >&2; die "wrk against nginx ($1) failed"; }
}

bench_measure() { # bench_measure NOTE (the summary's last line)
	local r name order f ws w0 w1 r0 r1 line
	# Warm-up: both servers, page cache, the exporter's first connection.
	run_wrk without 2 "$out/warmup-without.txt"
	run_wrk with 2 "$out/warmup-with.txt"

	: >"$out/runs.txt"
	printf '\n  %-6s %-8s %12s %10s %10s %10s   %s\n' round server requests/s "p50 (µs)" "p99 (µs)" \
		"CPU/req µs" "socket errors"
	for ((r = 1; r <= rounds; r++)); do
		if ((r % 2)); then order=(without with); else order=(with without); fi
		for name in "${order[@]}"; do
			f=$out/wrk-$r-$name.txt
			read -ra ws <<<"$(workers_of "$name" | tr '\n' ' ')"
			w0=$(cpu_ticks "${ws[@]}") r0=$(cpu_ticks "$RPID")
			run_wrk "$name" "$duration" "$f"
			w1=$(cpu_ticks "${ws[@]}") r1=$(cpu_ticks "$RPID")
			line="$r $name $f $((w1 - w0)) $((r1 - r0))"
			printf '%s\n' "$line" >>"$out/runs.txt"
			python3 -c "$stats_py" "$hz" row "$line"
		done
	done
	python3 -c "$stats_py" "$hz" summary "$out/runs.txt" "$1" | tee "$out/summary.txt"
}

# --- what the receiver got ------------------------------------------------------
bench_exports() {
	local f i now last counts served=$probes
	# Stopping the traced nginx gracefully makes its worker exit, and the
	# library flushes what is still queued (bounded by OTEL_BSP_EXPORT_TIMEOUT).
	for f in "$out/warmup-with.txt" "$out"/wrk-*-with.txt; do
		served=$((served + $(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$f")))
	done
	kill -QUIT "${MASTER[with]}" 2>/dev/null || true
	wait "${MASTER[with]}" 2>/dev/null || true
	if [[ $receiver == node ]]; then
		last=-1
		for ((i = 0; i < 80; i++)); do
			now=$(wc -l <"$out/receiver-requests.jsonl")
			[[ $now == "$last" ]] && break
			last=$now
			sleep 0.5
		done
		counts=$out/receiver-requests.jsonl
	else
		# One JSON line per export, like the node receiver's log: the span
		# count from the library's debug line, the status from the sink's
		# access log.
		python3 - "$out/nginx-with/error.log" "$sink/access.log" >"$out/sink-requests.jsonl" <<'EOF'
import json, re, sys
spans = [int(m.group(1)) for m in
         (re.match(r"otelpreload: exported (\d+) spans$", l.strip()) for l in open(sys.argv[1])) if m]
codes = [l.split()[0] for l in open(sys.argv[2]) if l.strip()]
for i, n in enumerate(spans):
    print(json.dumps({"spans": n, "status": int(codes[i]) if i < len(codes) else None}))
EOF
		counts=$out/sink-requests.jsonl
	fi
	python3 - "$counts" "$served" "$out/exported-spans.txt" <<'EOF' | tee -a "$out/summary.txt"
import collections, json, sys
spans, exports, status = 0, 0, collections.Counter()
for line in open(sys.argv[1]):
    if line.strip():
        e = json.loads(line)
        exports += 1
        spans += e.get("spans", 0)
        status[e.get("status")] += 1
served = int(sys.argv[2])
open(sys.argv[3], "w").write("%d\n" % spans)
print()
print("  export   %d spans received in %d OTLP requests (HTTP status %s)"
      % (spans, exports, ", ".join("%s: %d" % kv for kv in sorted(status.items())) or "none"))
# wrk does not count the requests in flight when it stops (up to one per
# connection per run), so a few more spans than counted requests is normal.
print("           for %d requests wrk counted on the traced nginx: %.1f%%"
      % (served, 100.0 * spans / served if served else 0.0))
if served > spans:
    print("           %d requests without an exported span%s" % (served - spans,
          " (dropped by the full queue, or lost)" if spans else ""))
EOF
	# shellcheck disable=SC2034 # for the calling script
	exported_spans=$(cat "$out/exported-spans.txt") served_with=$served
}

bench_footer() {
	# Everything but the library's routine lines, at most 20 of them.
	local logged
	logged=$(grep -v '^otelpreload: \(exported\|loaded\|at exit\)' "$out/nginx-with/error.log" 2>/dev/null |
		head -20 || true)
	if [[ -n $logged ]]; then
		printf '\n  the traced nginx logged:\n'
		printf '%s\n' "$logged" | sed 's/^/    /'
	fi
	printf '\n  load      %s (1, 5, 15 min) at the end\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf '\nraw data: %s/\n' "${out#"$PWD"/}"
}
