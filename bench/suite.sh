#!/usr/bin/env bash
# The benchmark suite of issue 9: what otelpreload costs against no tracing,
# against the official OpenTelemetry JS SDK, and against the floor, in one run,
# every comparison's variants alternating, medians and ratios, one table and
# PNG plots. Figures only: timing never makes this script fail. See
# bench/README.md ("The suite").
#
#   1. servers: wrk against nginx (a small static file, keep-alive) and
#      against node's plain http module: no tracing, otelpreload sampling 100%
#      and exporting, sampling 1% (traceidratio), OTEL_SDK_DISABLED=true;
#   2. the same node server instrumented with the official JS SDK
#      (bench/node_server.mjs --otel-sdk), exporting to the same sink;
#   3. a client (bench/http_loop.c) making sequential requests to nginx over
#      one keep-alive connection and over a new connection each, traced or not;
#   4. redis-benchmark against redis-server, with and without the library;
#   5. the floor: bench/run.sh (exec start-up, pass-through calls);
#   6. the pipeline: bench/exporter.sh (http/protobuf), and the peak RSS of a
#      traced process whose collector is down (queue at its bound).
#
# Environment: the knobs of bench/http.sh (BENCH_ROUNDS 3, BENCH_DURATION,
# here 8 s per wrk run, BENCH_CONNECTIONS, BENCH_THREADS, BENCH_FILE_SIZE,
# OTELPRELOAD_LIBRARY), BENCH_CLIENT_REQUESTS (20000 keep-alive requests per
# run; a quarter of that over new connections), BENCH_REDIS_REQUESTS (100000
# per redis-benchmark test), BENCH_MEMORY_EXCHANGES (50000), BENCH_PROFILE (1:
# perf profiles of the traced servers when perf is installed; 0: none),
# BENCH_SCENARIOS (all, or some of "nginx node client redis floor pipeline").
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=bench/lib_nginx.sh
source bench/lib_nginx.sh

: "${BENCH_DURATION:=8}"
client_requests=${BENCH_CLIENT_REQUESTS:-20000}
redis_requests=${BENCH_REDIS_REQUESTS:-100000}
memory_exchanges=${BENCH_MEMORY_EXCHANGES:-50000}
profile=${BENCH_PROFILE:-1}
scenarios=${BENCH_SCENARIOS:-all}
want() { [[ $scenarios == all || " $scenarios " == *" $1 "* ]]; }
bench_setup suite
for v in cc redis-server redis-benchmark redis-cli; do
	command -v "$v" >/dev/null || die "$v is needed (bash scripts/deps.sh)"
done
[[ -d tests/node_modules/@opentelemetry/exporter-trace-otlp-proto ]] ||
	die "tests/node_modules lacks the official SDK's exporter: bash scripts/deps.sh (npm ci in tests/)"
command -v perf >/dev/null || profile=0
started=$EPOCHSECONDS
# Long enough for every run this script makes with these knobs, and no more.
lifetime=$((900 + rounds * 12 * (duration + 3)))

# The servers stop with this script (the EXIT trap); should it die without
# running the trap (SIGKILL), a watchdog stops them within a second, and after
# $lifetime seconds in any case. $out/pids lists them.
: >"$out/pids"
trap ': >"$out/pids"; cleanup' EXIT
(
	while kill -0 $$ 2>/dev/null && ((SECONDS < lifetime)); do sleep 1; done
	xargs -r kill <"$out/pids" 2>/dev/null || true
) &
PIDS+=($!)
guard() { printf '%s\n' "$@" >>"$out/pids"; }

cc -std=gnu11 -O2 -pthread -o "$out/http_loop" bench/http_loop.c
head -c "$size" /dev/zero | tr '\0' 'x' >"$out/small.html"
# The keep-alive client makes thousands of requests on one connection.
server_conf="        keepalive_requests 100000000;"

# Every traced variant, with what it adds to the traced defaults of
# start_nginx (always_on, OTLP/HTTP to the receiver, debug log for the span
# count).
declare -A VARIANT_ENV=(
	[100]=""
	[1]="OTEL_TRACES_SAMPLER=traceidratio OTEL_TRACES_SAMPLER_ARG=0.01"
	[off]="OTEL_SDK_DISABLED=true"
)

# start_node NAME VARIANT: node_server.mjs on the servers' CPU. VARIANT is
# none, sdk (the official SDK, no library) or a key of VARIANT_ENV.
start_node() {
	local name=$1 variant=$2 dir=$out/$1 e=()
	mkdir -p "$dir"
	read -ra e <<<"${VARIANT_ENV[$variant]:-}"
	# exec: the background case statement is a subshell, and $! must be node.
	case $variant in
	none) exec "${pin_nginx[@]}" node bench/node_server.mjs "$dir/port" "$size" "$lifetime" ;;
	sdk) exec "${pin_nginx[@]}" node bench/node_server.mjs "$dir/port" "$size" "$lifetime" --otel-sdk "$endpoint" ;;
	*) exec "${pin_nginx[@]}" env LD_PRELOAD="$lib" OTEL_EXPORTER_OTLP_ENDPOINT="$endpoint" \
		OTEL_TRACES_SAMPLER=always_on OTEL_SERVICE_NAME=node-bench "${traced_env[@]}" "${e[@]}" \
		node bench/node_server.mjs "$dir/port" "$size" "$lifetime" ;;
	esac >"$dir/stdout.log" 2>"$dir/error.log" &
	MASTER[$name]=$!
	PIDS+=($!)
	guard $!
	wait_file "$dir/port" 20 || { cat "$dir/error.log" >&2; die "node ($name) did not start"; }
	PORT[$name]=$(cat "$dir/port")
	printf '%s node %s\n' "$name" "$dir/error.log" >>"$out/servers.txt"
}

# server_pids NAME: the processes that serve (nginx's worker, node itself).
server_pids() {
	if [[ $1 == ngx-* ]]; then workers_of "$1"; else echo "${MASTER[$1]}"; fi
}

rss_kb() { # rss_kb PID...: their resident set, summed
	local p t=0 kb
	for p in "$@"; do
		kb=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$p/status" 2>/dev/null || true)
		t=$((t + ${kb:-0}))
	done
	echo "$t"
}

# The library must be mapped in every traced server, and in no other.
check_preload() { # check_preload NAME TRACED(0|1)
	local p
	for p in $(server_pids "$1"); do
		if (($2)); then
			grep -q libotelpreload "/proc/$p/maps" || die "the library is not loaded in $1 ($p)"
		else
			! grep -q libotelpreload "/proc/$p/maps" || die "the library leaked into $1 ($p)"
		fi
	done
}

# measure_wrk NAME...: warm-up, then the rounds, the order reversed every other
# round. One line per run in wrk-runs.txt: round name wrk-output server-ticks
# receiver-ticks server-rss-kB.
measure_wrk() {
	local r i name f ws w0 w1 r0 r1 line order=()
	printf '  %-6s %-9s %12s %10s %10s %10s   %s\n' round server requests/s "p50 (µs)" "p99 (µs)" \
		"CPU/req µs" "socket errors"
	for name in "$@"; do run_wrk "$name" $((duration < 2 ? duration : 2)) "$out/warmup-$name.txt"; done
	for ((r = 1; r <= rounds; r++)); do
		order=("$@")
		if ((r % 2 == 0)); then
			order=()
			for ((i = $#; i >= 1; i--)); do order+=("${!i}"); done
		fi
		for name in "${order[@]}"; do
			f=$out/wrk-$r-$name.txt
			read -ra ws <<<"$(server_pids "$name" | tr '\n' ' ')"
			w0=$(cpu_ticks "${ws[@]}") r0=$(cpu_ticks "$RPID")
			run_wrk "$name" "$duration" "$f"
			w1=$(cpu_ticks "${ws[@]}") r1=$(cpu_ticks "$RPID")
			line="$r $name $f $((w1 - w0)) $((r1 - r0))"
			printf '%s %s\n' "$line" "$(rss_kb "${ws[@]}")" >>"$out/wrk-runs.txt"
			python3 -c "$stats_py" "$hz" row "$line"
		done
	done
}

# profile_server NAME: perf samples of the server's process while wrk loads it.
profile_server() {
	local p=$out/perf-$1 pid
	pid=$(server_pids "$1" | head -1)
	run_wrk "$1" 5 "$p.wrk.txt" &
	sleep 0.5
	perf record -F 1999 -g -o "$p.data" -p "$pid" -- sleep 4 >"$p.log" 2>&1 || true
	wait $! || true
	# By thread (the library's exporter thread is named otelpreload) and
	# object, then the hottest symbols.
	{
		perf report -i "$p.data" --no-children --sort comm,dso --stdio -g none 2>/dev/null |
			grep -v '^#' | grep -v '^$' | head -16
		echo
		perf report -i "$p.data" --no-children --sort comm,dso,sym --stdio -g none 2>/dev/null |
			grep -v '^#' | grep -v '^$' | head -40
	} >"$p.txt" || true
}

: >"$out/servers.txt"
bench_receiver
guard "$RPID"
bench_header "otelpreload benchmark suite (issue 9)" "sendfile, keep-alive" \
	"  node      $(node --version), plain http module, $size-byte body; official SDK: tests/node_modules"
printf '  variants  none: no library; 100: LD_PRELOAD, always_on; 1: traceidratio 0.01;\n'
printf '            off: OTEL_SDK_DISABLED=true; sdk: the official JS SDK, no library\n'

# --- 1 and 2: servers -------------------------------------------------------------
if want nginx || want client; then
	start_nginx ngx-none 0
	guard "${MASTER[ngx-none]}"
	check_preload ngx-none 0
	printf 'ngx-none nginx %s\n' "$out/nginx-ngx-none/error.log" >>"$out/servers.txt"
fi
if want nginx; then
	for v in 100 1 off; do
		read -ra e <<<"${VARIANT_ENV[$v]}"
		start_nginx "ngx-$v" 1 "${e[@]}"
		guard "${MASTER[ngx-$v]}"
		check_preload "ngx-$v" 1
		printf 'ngx-%s nginx %s\n' "$v" "$out/nginx-ngx-$v/error.log" >>"$out/servers.txt"
	done
fi
if want node; then
	for v in none 100 1 off sdk; do start_node "node-$v" "$v"; done
	for v in none sdk; do check_preload "node-$v" 0; done
	for v in 100 1 off; do check_preload "node-$v" 1; done
fi

: >"$out/wrk-runs.txt"
if want nginx; then
	printf '\n1. nginx, %d-byte file: wrk -c%d, %d s per run\n' "$size" "$conns" "$duration"
	measure_wrk ngx-none ngx-100 ngx-1 ngx-off
	((profile == 0)) || profile_server ngx-100
fi
if want node; then
	printf '\n1-2. node http, %d-byte body: wrk -c%d, %d s per run\n' "$size" "$conns" "$duration"
	measure_wrk node-none node-100 node-1 node-off node-sdk
	((profile == 0)) || profile_server node-100
fi
((profile == 0)) || ! { want nginx || want node; } ||
	printf '   perf profiles of the traced servers under wrk (5 s each): %s/perf-*.txt\n' "${out#"$PWD"/}"

# --- 3: client ------------------------------------------------------------------------
# bench/http_loop.c as the client of the untraced nginx, on wrk's CPU; "100"
# traces it (a CLIENT span per request, exported to the receiver). Its CPU
# (all threads, the exporter's flush at exit included) comes from wait4().
want client && printf '\n3. client: %d sequential requests over keep-alive, %d over new connections\n' \
	"$client_requests" $((client_requests / 4))
: >"$out/client-runs.txt"
n_rounds=0
want client && n_rounds=$rounds
for ((r = 1; r <= n_rounds; r++)); do
	for mode in keepalive new; do
		n=$client_requests
		[[ $mode == keepalive ]] || n=$((client_requests / 4))
		order=(none 100)
		((r % 2)) || order=(100 none)
		for v in "${order[@]}"; do
			e=()
			[[ $v == none ]] || e=(LD_PRELOAD="$lib" OTEL_EXPORTER_OTLP_ENDPOINT="$endpoint"
				OTEL_TRACES_SAMPLER=always_on OTEL_SERVICE_NAME=client-bench "${traced_env[@]}")
			f=$out/client-$r-$mode-$v
			res=$("${pin_wrk[@]}" python3 bench/suite.py rusage "$f.out" "$f.err" \
				env "${e[@]}" "$out/http_loop" "$n" "${PORT[ngx-none]}" /small.html \
				"$([[ $mode == new ]] && echo new || echo keep)") ||
				{ cat "$f.err" >&2; die "the client failed"; }
			printf '%d %s %s %s %s %s\n' "$r" "$mode" "$v" "$(cut -d' ' -f1 "$f.out")" "$res" "$f.err" \
				| tee -a "$out/client-runs.txt" | sed 's/^/  /'
		done
	done
done

# --- 4: redis ----------------------------------------------------------------------------
declare -A RPORT RPIDS
want redis && printf '\n4. redis-benchmark -c%d -n %d -t set,get against redis-server, with and without the library\n' \
	"$conns" "$redis_requests"
for v in none 100; do
	want redis || break
	mkdir -p "$out/redis-$v"
	RPORT[$v]=$(free_port)
	e=()
	[[ $v == none ]] || e=(LD_PRELOAD="$lib" OTEL_EXPORTER_OTLP_ENDPOINT="$endpoint"
		OTEL_TRACES_SAMPLER=always_on OTEL_SERVICE_NAME=redis-bench "${traced_env[@]}")
	(cd "$out/redis-$v" && exec env "${e[@]}" "${pin_nginx[@]}" redis-server --bind 127.0.0.1 \
		--port "${RPORT[$v]}" --save "" --appendonly no --daemonize no) \
		>"$out/redis-$v/stdout.log" 2>"$out/redis-$v/error.log" &
	RPIDS[$v]=$!
	PIDS+=($!)
	guard $!
	for ((i = 0; i < 100; i++)); do
		redis-cli -h 127.0.0.1 -p "${RPORT[$v]}" ping >/dev/null 2>&1 && break
		sleep 0.1
	done
	redis-cli -h 127.0.0.1 -p "${RPORT[$v]}" ping >/dev/null || die "redis-server ($v) did not start"
done
! want redis || grep -q libotelpreload "/proc/${RPIDS[100]}/maps" ||
	die "the library is not loaded in redis-server"
: >"$out/redis-runs.txt"
n_rounds=0
want redis && n_rounds=$rounds
for ((r = 1; r <= n_rounds; r++)); do
	order=(none 100)
	((r % 2)) || order=(100 none)
	for v in "${order[@]}"; do
		f=$out/redis-$r-$v.csv
		w0=$(cpu_ticks "${RPIDS[$v]}")
		"${pin_wrk[@]}" redis-benchmark -h 127.0.0.1 -p "${RPORT[$v]}" -c "$conns" -n "$redis_requests" \
			-t set,get --csv >"$f" 2>"$f.err" || { cat "$f.err" >&2; die "redis-benchmark failed"; }
		w1=$(cpu_ticks "${RPIDS[$v]}")
		printf '%d %s %s %d %d %d\n' "$r" "$v" "$f" $((w1 - w0)) "$(rss_kb "${RPIDS[$v]}")" \
			"$redis_requests" >>"$out/redis-runs.txt"
		printf '  %d %-5s %s\n' "$r" "$v" "$(tr '\n' ' ' <"$f" | sed 's/"test","rps",[^ ]* //')"
	done
done

# --- 6b: memory at the queue bound --------------------------------------------------------
# bench/http_loop.c traces both ends of each exchange (two spans) while the
# collector is down (a closed port: every export fails), far more spans than
# the queue holds: the peak RSS is that of a full queue. A second queue bound
# shows how the memory scales with it.
want pipeline && printf '\n6b. peak RSS of %d traced HTTP exchanges (two spans each), the collector down\n' \
	"$memory_exchanges"
dead=http://127.0.0.1:$(free_port)
: >"$out/memory.txt"
for v in none 2048 16384; do
	want pipeline || break
	e=()
	[[ $v == none ]] || e=(LD_PRELOAD="$lib" OTEL_EXPORTER_OTLP_ENDPOINT="$dead" OTEL_TRACES_SAMPLER=always_on
		OTEL_BSP_MAX_QUEUE_SIZE="$v")
	f=$out/memory-$v
	res=$("${pin_nginx[@]}" python3 bench/suite.py rusage "$f.out" "$f.err" \
		env "${e[@]}" "$out/http_loop" "$memory_exchanges") || { cat "$f.err" >&2; die "http_loop failed"; }
	printf '%s %s\n' "$v" "$res" >>"$out/memory.txt"
	printf '  queue %-5s %s\n' "$v" "$(cat "$f.out")"
done

# The servers are done: stop them before the floor and the pipeline, which
# need the CPUs to themselves. The receiver goes last, so the traced servers
# flush their queues to it (nginx gracefully, on SIGQUIT).
for name in "${!MASTER[@]}"; do
	kill "-$([[ $name == ngx-* ]] && echo QUIT || echo TERM)" "${MASTER[$name]}" 2>/dev/null || true
done
for p in "${RPIDS[@]}"; do kill "$p" 2>/dev/null || true; done
for p in "${MASTER[@]}" "${RPIDS[@]}"; do wait "$p" 2>/dev/null || true; done
: >"$out/pids"
cleanup
PIDS=()

# --- 5: floor -----------------------------------------------------------------------------
if want floor; then
	printf '\n5. floor: bench/run.sh (log in %s/floor.log)\n' "${out#"$PWD"/}"
	BENCH_RUNS=${BENCH_RUNS:-200} BENCH_PAIRS=${BENCH_PAIRS:-1000000} BENCH_TCP_PAIRS=${BENCH_TCP_PAIRS:-200000} \
		BENCH_REPEATS=${BENCH_REPEATS:-3} BENCH_CALLGRIND=calls OTELPRELOAD_LIBRARY=$lib \
		bash bench/run.sh >"$out/floor.log" 2>&1 || { cat "$out/floor.log" >&2; die "bench/run.sh failed"; }
	mkdir -p "$out/floor"
	cp build/bench/startup.json build/bench/passthrough.txt build/bench/instructions.txt "$out/floor/" 2>/dev/null || true
fi

# --- 6: pipeline ---------------------------------------------------------------------------
if want pipeline; then
	printf '6. pipeline: bench/exporter.sh, http/protobuf (log in %s/pipeline.log)\n' "${out#"$PWD"/}"
	BENCH_PROTOCOLS=http/protobuf BENCH_SECONDS=${BENCH_SECONDS:-3} bash bench/exporter.sh \
		>"$out/pipeline.log" 2>&1 || { cat "$out/pipeline.log" >&2; die "bench/exporter.sh failed"; }
	mkdir -p "$out/pipeline"
	cp build/bench/exporter/runs.txt "$out/pipeline/"
fi

printf '\n'
python3 bench/suite.py report "$out" "$hz" "$duration" "$rounds" "$conns" "$size" | tee "$out/table.txt"
printf '\n  load      %s (1, 5, 15 min) at the end; the suite took %d s\n' \
	"$(cut -d' ' -f1-3 /proc/loadavg)" $((EPOCHSECONDS - started))
printf 'raw data: %s/  plots: %s/*.png\n' "${out#"$PWD"/}" "${out#"$PWD"/}"
