#!/usr/bin/env bash
# Prints what libotelpreload.so costs a server it traces: wrk against nginx
# serving a small static file on 127.0.0.1, without the library and with it
# (every request sampled, its SERVER span exported over OTLP/HTTP to the test
# receiver, default OTEL_BSP_* settings), side by side in one run, in
# alternating rounds. Figures only: timing never makes this script fail.
# See bench/README.md; bench/https.sh is the same over TLS, and both share
# bench/lib_nginx.sh.
#
# Environment: OTELPRELOAD_LIBRARY (measure that file instead of building
# build/libotelpreload.so; libotelpreload-exporter.so must be next to it),
# BENCH_ROUNDS (3), BENCH_DURATION (10, seconds per wrk run),
# BENCH_CONNECTIONS (10), BENCH_THREADS (1), BENCH_FILE_SIZE (1024 bytes),
# BENCH_TRACED_ENV ("NAME=VALUE ..." added to the traced nginx's environment,
# e.g. "OTEL_TRACES_EXPORTER=none" to measure the engine without export),
# BENCH_RECEIVER (sink: a plain nginx answering 200 to every export, the
# cheapest collector there is, so the receiver's own CPU does not starve wrk
# on a small machine; the exported span count then comes from the library's
# debug log. node: the test receiver, which decodes every span with the
# official OpenTelemetry JS code and counts them itself).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=bench/lib_nginx.sh
source bench/lib_nginx.sh

bench_setup http
bench_receiver
bench_servers
bench_header "otelpreload HTTP benchmark: wrk against nginx serving a $size-byte file" \
	"sendfile, keep-alive"
bench_measure "(issue 3 targets: ratio at least 0.95, p99 added under 50 µs; figures only, never pass/fail)"
bench_exports
bench_footer
