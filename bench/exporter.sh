#!/usr/bin/env bash
# Prints how many spans per second ONE exporter thread encodes and ships to
# a local receiver: bench/export_driver.c loads libotelpreload-exporter.so
# as the library's worker does and calls its export_spans() with batches of
# realistic HTTP client spans, back to back, from one thread. OTLP/HTTP
# protobuf first, then gzip, OTLP/HTTP JSON and OTLP/gRPC; a protocol the
# module cannot speak is reported and skipped. Figures only: timing never
# makes this script fail. See bench/README.md.
#
# Environment: BENCH_BUILD_DIR (build), BENCH_SECONDS (3 per run),
# BENCH_ROUNDS (3 runs per protocol, the median is printed), BENCH_BATCH
# (512, the default OTEL_BSP_MAX_EXPORT_BATCH_SIZE), BENCH_PROTOCOLS (all, or
# a comma list of the names in the table, e.g. "http/protobuf,grpc").
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=bench/lib_sink.sh
source bench/lib_sink.sh

build=${BENCH_BUILD_DIR:-build}
seconds=${BENCH_SECONDS:-3}
rounds=${BENCH_ROUNDS:-3}
batch=${BENCH_BATCH:-512}
protocols=${BENCH_PROTOCOLS:-all}
out=$build/bench/exporter

die() {
	printf 'bench: %s\n' "$*" >&2
	exit 1
}

# Nothing of the caller's may reach the driver.
unset LD_PRELOAD
for v in $(env | sed -n 's/^\(OTEL[A-Z0-9_]*\)=.*/\1/p'); do unset "$v"; done
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

for v in python3 cc nginx node curl; do
	command -v "$v" >/dev/null || [[ $v == nginx && -x /usr/sbin/nginx ]] ||
		die "$v is needed (bash scripts/deps.sh)"
done
nginx=$(command -v nginx || echo /usr/sbin/nginx)

# --- build ---------------------------------------------------------------------
# The module and the SDK's static library (configuration parser, span and
# resource code) from the same tree; the build system rebuilds what changed.
mkdir -p "$build/bench"
log=$build/bench/exporter-build.log
if ! { [[ -f $build/CMakeCache.txt ]] ||
	cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo; } >"$log" 2>&1 ||
	! cmake --build "$build" -j2 --target op_sdk libotelpreload-exporter >>"$log" 2>&1; then
	cat "$log" >&2
	die "building the exporter module failed"
fi
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")
rm -rf "$out"
mkdir -p "$out"
out=$(realpath "$out")
module=$(realpath "$build/libotelpreload-exporter.so")
cc -std=gnu11 -O2 -D_GNU_SOURCE -I. -o "$out/export_driver" bench/export_driver.c \
	"$build/libop_sdk.a" -ldl -lpthread

# --- CPUs ----------------------------------------------------------------------
# The driver on one CPU, the receivers on another: the receiver never takes
# the exporter thread's CPU.
ncpu=$(nproc)
pin_driver=() pin_recv=()
pinned="no (taskset not found or one CPU)"
if command -v taskset >/dev/null && ((ncpu > 1)); then
	pin_driver=(taskset -c $((ncpu - 1))) pin_recv=(taskset -c $((ncpu - 2)))
	pinned="driver on CPU $((ncpu - 1)), receivers on CPU $((ncpu - 2))"
fi

PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# --- receivers -------------------------------------------------------------------
# OTLP/HTTP: nginx answering 200 to every POST on /v1/traces, keep-alive,
# one line per request in its access log: "status body-bytes".
sink=$out/sink
# shellcheck disable=SC2016 # nginx's variables
start_sink "$sink" '$status $content_length' 64 "keepalive_requests 100000000;"
hport=$sink_port

# OTLP/gRPC: node's HTTP/2 server (prior knowledge, cleartext), answering
# every call with an empty ExportTraceServiceResponse and grpc-status 0;
# large flow-control windows, so a 200 KB request needs no WINDOW_UPDATE
# round trip. Same log format.
cat >"$out/grpc_sink.mjs" <<'EOF'
import fs from 'node:fs';
import http2 from 'node:http2';
const [portFile, logFile] = process.argv.slice(2);
const log = fs.openSync(logFile, 'a');
const window = 16 * 1024 * 1024;
const server = http2.createServer({ settings: { initialWindowSize: window } });
server.on('session', (s) => s.on('connect', () => s.setLocalWindowSize(window)));
server.on('stream', (stream) => {
  let n = 0;
  stream.on('data', (c) => { n += c.length; });
  stream.on('end', () => {
    fs.writeSync(log, `200 ${n}\n`);
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(Buffer.from([0, 0, 0, 0, 0]));
  });
});
server.listen(0, '127.0.0.1', () => fs.writeFileSync(portFile, `${server.address().port}\n`));
setTimeout(() => process.exit(0), 3600 * 1000).unref();
process.on('SIGTERM', () => process.exit(0));
EOF
: >"$out/grpc.log"
"${pin_recv[@]}" node "$out/grpc_sink.mjs" "$out/grpc.port" "$out/grpc.log" >"$out/grpc_sink.out" 2>&1 &
PIDS+=($!)
for ((i = 0; i < 100; i++)); do
	[[ -s $out/grpc.port ]] && break
	sleep 0.1
done
[[ -s $out/grpc.port ]] || die "the gRPC sink did not start: $(cat "$out/grpc_sink.out")"
gport=$(cat "$out/grpc.port")

# --- header ------------------------------------------------------------------------
printf 'otelpreload exporter throughput: one thread, batches of %d spans, OTLP to 127.0.0.1\n' "$batch"
printf '  module    %s (%s)\n' "$module" "$build_type"
printf '  machine   %s CPUs, Linux %s, %s, %s\n' "$ncpu" "$(uname -r)" \
	"$(getconf GNU_LIBC_VERSION 2>/dev/null || echo "libc unknown")" \
	"$(curl --version | head -1 | cut -d' ' -f1-2)"
printf '  pinned    %s\n' "$pinned"
printf '  receivers nginx %s (OTLP/HTTP), node %s http2 (OTLP/gRPC); both only count bytes\n' \
	"$("$nginx" -v 2>&1 | sed 's/^nginx version: nginx\///')" "$(node --version)"
printf '  runs      %d s each, %d per protocol, medians; CPU is the driver process'"'"'s user+system\n' \
	"$seconds" "$rounds"
printf '  load      %s (1, 5, 15 min) at the start\n' "$(cut -d' ' -f1-3 /proc/loadavg)"

stall_us() { # CPU pressure stall so far (µs), 0 without PSI
	sed -n 's/^some .*total=\([0-9]*\)$/\1/p' /proc/pressure/cpu 2>/dev/null || echo 0
}

# --- runs ----------------------------------------------------------------------------
printf '\n  %-24s %12s %10s %12s %10s %9s   %s\n' protocol "spans/s" "µs CPU" \
	"spans/CPU-s" bytes/span "stall %" "per run (spans/s)"
rows=$out/runs.txt
: >"$rows"
measure() { # measure NAME URL-BASE SINK-LOG [ENV=VALUE...]
	local name=$1 base=$2 slog=$3 r before after s0 s1 res id err
	shift 3
	[[ $protocols == all || ,$protocols, == *",$name,"* ]] || return 0
	id=$(tr -c 'a-z0-9\n' '_' <<<"$name")
	err=$out/$id.err
	for ((r = 1; r <= rounds; r++)); do
		before=$(wc -l <"$slog")
		s0=$(stall_us)
		if ! res=$(env OTEL_EXPORTER_OTLP_ENDPOINT="$base" "$@" \
			"${pin_driver[@]}" "$out/export_driver" "$module" "$seconds" "$batch" 2>"$err"); then
			# Once more with debug output, for the reason.
			env OTEL_EXPORTER_OTLP_ENDPOINT="$base" OTEL_LOG_LEVEL=debug "$@" \
				"$out/export_driver" "$module" 0.1 "$batch" >/dev/null 2>"$err" || true
			printf '  %-24s not available: %s\n' "$name" \
				"$(grep -v '^otelpreload: exported' "$err" | head -2 | tr '\n' ' ')"
			return 0
		fi
		s1=$(stall_us)
		after=$(wc -l <"$slog")
		# The warm-up batches come first in the sink's log: skip them.
		printf '%s %s %s %s %s\n' "$id" "$res" \
			"sink=$(sed -n "$((before + 4)),${after}p" "$slog" | awk '$1 == 200 { n++; b += $2 } END { printf "%d,%d", n, b }')" \
			"stall_us=$((s1 - s0))" "non200=$(sed -n "$((before + 1)),${after}p" "$slog" | awk '$1 != 200' | wc -l)" >>"$rows"
	done
	python3 - "$rows" "$id" "$name" "$batch" <<'EOF'
import statistics as st, sys
rows, id, name, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
runs = []
for line in open(rows):
    if line.split()[0] != id:
        continue
    f = dict(kv.split("=") for kv in line.split()[1:])
    n, b = map(int, f["sink"].split(","))
    runs.append(dict(sps=float(f["spans_per_s"]), cpu=float(f["cpu_us_per_span"]),
                     bps=b / (n * batch) if n else 0, failed=int(f["failed"]),
                     stall=100.0 * int(f["stall_us"]) / 1e6 / float(f["wall_s"]),
                     non200=int(f["non200"])))
sps = st.median(r["sps"] for r in runs)
cpu = st.median(r["cpu"] for r in runs)
note = ""
failed = sum(r["failed"] for r in runs) + sum(r["non200"] for r in runs)
if failed:
    note = "   %d batches failed or answered non-200" % failed
print("  %-24s %12.0f %10.2f %12.0f %10.0f %9.0f   %s%s"
      % (name, sps, cpu, 1e6 / cpu, st.median(r["bps"] for r in runs),
         st.median(r["stall"] for r in runs), " ".join("%.0f" % r["sps"] for r in runs), note))
EOF
}

H=http://127.0.0.1:$hport
G=http://127.0.0.1:$gport
measure "http/protobuf" "$H" "$sink/access.log"
measure "http/protobuf + gzip" "$H" "$sink/access.log" OTEL_EXPORTER_OTLP_COMPRESSION=gzip
measure "http/json" "$H" "$sink/access.log" OTEL_EXPORTER_OTLP_PROTOCOL=http/json
measure "http/json + gzip" "$H" "$sink/access.log" OTEL_EXPORTER_OTLP_PROTOCOL=http/json \
	OTEL_EXPORTER_OTLP_COMPRESSION=gzip
measure "grpc" "$G" "$out/grpc.log" OTEL_EXPORTER_OTLP_PROTOCOL=grpc
measure "grpc + gzip" "$G" "$out/grpc.log" OTEL_EXPORTER_OTLP_PROTOCOL=grpc \
	OTEL_EXPORTER_OTLP_COMPRESSION=gzip

printf '\n  spans/s      spans the receiver took per second of wall time (one export in flight at a time)\n'
printf '  µs CPU       the driver'"'"'s CPU time (encoding, libcurl, gzip, the kernel'"'"'s side of send)\n'
printf '               per span; spans/CPU-s = 1e6 / that: the rate with an instant receiver\n'
printf '  bytes/span   request body bytes the receiver counted, per span (compressed with gzip)\n'
printf '  stall %%      CPU pressure stall (/proc/pressure/cpu "some") during the runs, %% of their\n'
printf '               wall time: other programs competing for the CPUs; figures from runs with a\n'
printf '               high stall are low\n'
printf '  load      %s (1, 5, 15 min) at the end\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '\nraw data: %s/\n' "${out#"$PWD"/}"
