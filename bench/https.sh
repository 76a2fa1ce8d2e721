#!/usr/bin/env bash
# bench/http.sh over TLS: what libotelpreload.so costs a server it traces
# when the server speaks HTTPS. wrk against nginx serving a small static file
# on an `ssl` listener on 127.0.0.1 (HTTP/1.1 only, no http2; a self-signed
# ECDSA P-256 certificate made with the openssl CLI at run time), without the
# library and with it (every request sampled, its SERVER span exported over
# OTLP/HTTP to a local receiver), side by side in one run, in alternating
# rounds. Prints how many spans the traced nginx exported: a library without
# OpenSSL hooks sees only ciphertext on the socket and exports none. Figures
# only: timing never makes this script fail. See bench/README.md.
#
# Environment: the same knobs as bench/http.sh (OTELPRELOAD_LIBRARY,
# BENCH_ROUNDS, BENCH_DURATION, BENCH_CONNECTIONS, BENCH_THREADS,
# BENCH_FILE_SIZE, BENCH_TRACED_ENV, BENCH_RECEIVER), with the same defaults.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=bench/lib_nginx.sh
source bench/lib_nginx.sh

bench_setup https
command -v openssl >/dev/null || die "openssl is needed (bash scripts/deps.sh)"

# --- the certificate --------------------------------------------------------------
# Self-signed, for 127.0.0.1, made fresh every run; both nginx instances use
# the same one. wrk does not verify it; the readiness probe (curl) does.
tls=$out/tls
mkdir -p "$tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$tls/key.pem" -out "$tls/cert.pem" >"$tls/openssl.log" 2>&1 ||
	{ cat "$tls/openssl.log" >&2; die "openssl could not make a certificate"; }

# `listen ... ssl` without `http2`: HTTP/1.1 only (wrk offers no ALPN anyway).
# TLS 1.2 and 1.3, nginx's default since 1.23.4 (1.22 still offers 1.0 and
# 1.1 and not 1.3). No `ssl_conf_command Options KTLS`: OpenSSL encrypts in
# user space, so nginx writes with SSL_write and never sendfile().
scheme=https
listen_opts=" ssl"
server_conf="        ssl_certificate $tls/cert.pem;
        ssl_certificate_key $tls/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;"
curl_opts=(--cacert "$tls/cert.pem")

bench_receiver
bench_servers

# What a client with OpenSSL's defaults (wrk sets none of its own) negotiates,
# asked of the untraced nginx.
negotiated=$(openssl s_client -connect "127.0.0.1:${PORT[without]}" -brief </dev/null 2>&1 |
	sed -n 's/^Protocol version: //p; s/^Ciphersuite: //p' | paste -sd' ' || true)
# The OpenSSL functions the library interposes, if any: without SSL_read and
# SSL_write it only sees ciphertext on the socket, which it leaves alone.
hooks=()
if command -v nm >/dev/null; then
	for sym in SSL_read SSL_write SSL_read_ex SSL_write_ex SSL_sendfile; do
		nm -D --defined-only "$lib" 2>/dev/null | grep -qw "$sym" && hooks+=("$sym")
	done
	hooked=$(printf '%s, ' "${hooks[@]}")
	hooked=${hooked%, }
	hooked=${hooked:-none (this build does not trace TLS: it sees only ciphertext)}
else
	hooked="unknown (nm not found)"
fi

bench_header "otelpreload HTTPS benchmark: wrk against nginx serving a $size-byte file over TLS" \
	"ssl listener, HTTP/1.1, keep-alive, no kernel TLS" \
	"  TLS       ${negotiated:-unknown}, $(openssl version | cut -d' ' -f1-2), self-signed ECDSA P-256 cert;" \
	"            as negotiated by openssl s_client with OpenSSL's defaults, which wrk keeps" \
	"  hooks     OpenSSL functions the library interposes: $hooked"
bench_measure "(figures only, never pass/fail)"
bench_exports
if ((exported_spans == 0)); then
	if [[ " ${traced_env[*]} " == *" OTEL_TRACES_EXPORTER="* && " ${traced_env[*]} " != *" OTEL_TRACES_EXPORTER=otlp "* ]]; then
		msg="no spans expected: BENCH_TRACED_ENV sets OTEL_TRACES_EXPORTER"
	elif ((${#hooks[@]})); then
		msg="no spans: the library interposes ${hooks[*]} but traced none of the TLS requests"
	else
		msg="no spans: this library has no OpenSSL hooks yet, so TLS requests are not traced"
	fi
	printf '           %s\n' "$msg" | tee -a "$out/summary.txt"
fi
bench_footer
