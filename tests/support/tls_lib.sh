# Helpers for the HTTPS integration tests (tls_programs.sh, tls_curl_multi.sh,
# tls_wantwrite.sh). Source it after lib.sh and http_lib.sh:
#   . "$SRC/tests/support/tls_lib.sh"

TLS_PEER=$SRC/tests/support/tls_peer.py
OP_TLS_PEERS=0

# make_cert: a throw-away self-signed certificate for 127.0.0.1 in
# $T/cert.pem and $T/key.pem (P-256, two days). Every client in the tests
# skips verification; the name is right anyway.
make_cert() {
	command -v openssl >/dev/null || fail "openssl is not installed (bash scripts/deps.sh installs it)"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
		-keyout "$T/key.pem" -out "$T/cert.pem" >"$T/openssl.log" 2>&1 || {
		cat "$T/openssl.log" >&2
		fail "openssl could not make a test certificate"
	}
}

# start_tls_peer [tls_peer.py flags...]: starts tests/support/tls_peer.py
# with the certificate of make_cert and sets SPORT and SDIR (its records:
# conn-N.recv/.sent/.done, requests.jsonl).
start_tls_peer() {
	local n=$((++OP_TLS_PEERS))
	SDIR=$T/tlspeer.$n
	mkdir -p "$SDIR"
	spawn_server "the TLS test peer" "$T/tlsport.$n" "$T/tlspeer.$n.log" 10 \
		"$PYTHON" -u "$TLS_PEER" --port-file "$T/tlsport.$n" --dir "$SDIR" \
		--cert "$T/cert.pem" --key "$T/key.pem" --lifetime 110 "$@"
	SPORT=$SERVER_PORT
	touch "$SDIR/requests.jsonl"
}
