# Helpers for the exporter tests (exporter_protocols.sh, exporter_retry.sh).
# Source it after lib.sh (and tls_lib.sh for make_cert):
#   . "$SRC/tests/support/exporter_lib.sh"

# start_grpc_receiver [otlp_grpc_receiver.mjs flags...]: starts
# tests/support/otlp_grpc_receiver.mjs (grpc-js) and sets the same
# variables as start_receiver: RPORT, RPID, RSPANS, RREQS, and ENDPOINT
# (http://127.0.0.1:RPORT, https:// with --tls-cert).
start_grpc_receiver() {
	local scheme=http a
	need_node
	[ -d "$SRC/tests/node_modules/@grpc/grpc-js" ] ||
		fail "tests/node_modules has no @grpc/grpc-js: run 'npm ci' in tests/ (scripts/deps.sh does)"
	for a in "$@"; do [ "$a" = --tls-cert ] && scheme=https; done
	run_receiver "the OTLP/gRPC receiver" otlp_grpc_receiver.mjs "$@"
	ENDPOINT=$scheme://127.0.0.1:$RPORT
}

# make_client_ca: a test CA ($T/ca.pem, key $T/ca.key) and a client
# certificate it signed ($T/client.pem, key $T/client.key, subject
# CN=otelpreload-client,O=otelpreload tests) for mutual TLS.
make_client_ca() {
	command -v openssl >/dev/null || fail "openssl is not installed (bash scripts/deps.sh installs it)"
	{
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
			-subj "/CN=otelpreload test CA" -keyout "$T/ca.key" -out "$T/ca.pem" &&
			openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
				-subj "/CN=otelpreload-client/O=otelpreload tests" \
				-keyout "$T/client.key" -out "$T/client.csr" &&
			openssl x509 -req -in "$T/client.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
				-CAcreateserial -days 2 -out "$T/client.pem"
	} >"$T/openssl-ca.log" 2>&1 || {
		cat "$T/openssl-ca.log" >&2
		fail "openssl could not make the test CA and client certificate"
	}
}

# mark FILE: the number of lines FILE has now (see since).
mark() {
	count_lines "$1"
}

# since FILE MARK OUT: the lines FILE gained after MARK, into OUT.
since() {
	tail -n +$(($2 + 1)) "$1" >"$3"
}

# silent NAME OUT ERR: fail unless both files are empty.
silent() {
	[ -s "$2" ] && { cat "$2" >&2; fail "$1: unexpected output on stdout"; }
	[ -s "$3" ] && { cat "$3" >&2; fail "$1: printed on stderr"; }
	return 0
}

# stop_receiver: stops the receiver started last (RPID) now rather than at
# the end of the test.
stop_receiver() {
	local i
	kill "$RPID" 2>/dev/null
	wait "$RPID" 2>/dev/null
	for i in "${!OP_PIDS[@]}"; do
		[ "${OP_PIDS[$i]}" = "$RPID" ] && unset "OP_PIDS[$i]"
	done
	return 0
}

# run_spanner NAME SPANS [ENV=VALUE...] [-- SPANNER_FLAGS...]: the spanner
# under the testing library, exporting to $ENDPOINT with the given
# environment, must exit 0 and print nothing. Sets TOOK (milliseconds).
run_spanner() {
	local name=$1 n=$2 start envs=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	start=$(now_ms)
	env OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" "${envs[@]}" LD_PRELOAD="$TESTLIB" \
		"$SPANNER" -n "$n" -N "$name" "$@" >"$T/out" 2>"$T/err" || fail "$name: spanner failed"
	TOOK=$(($(now_ms) - start))
	silent "$name" "$T/out" "$T/err"
}

# attempts NAME REQUESTS SPANS MIN_GAP_MS MAX_GAP_MS: the receiver started
# last got exactly REQUESTS requests carrying the same bytes, spaced by
# MIN_GAP_MS..MAX_GAP_MS, and recorded SPANS distinct spans, each once.
attempts() {
	check_json "$RREQS" name="$1" reqs="$2" spans="$3" min="$4" max="$5" spansfile="$RSPANS" <<'PY'
name = args["name"]
reqs = [q for q in rows if q.get("seq", 0) > 0]
assert len(reqs) == int(args["reqs"]), "%s: %d requests, expected %s" % (name, len(reqs), args["reqs"])
shas = {q["sha256"] for q in reqs if "sha256" in q}
assert len(shas) <= 1, "%s: the attempts did not carry the same batch" % name
gaps = [round(b["mono"] - a["mono"]) for a, b in zip(reqs, reqs[1:])]
for g in gaps:
    assert int(args["min"]) <= g <= int(args["max"]), \
        "%s: attempts %s ms apart, expected %s..%s" % (name, gaps, args["min"], args["max"])
spans = [json.loads(l) for l in open(args["spansfile"]) if l.strip()]
assert len(spans) == int(args["spans"]), "%s: %d spans recorded, expected %s" % (name, len(spans), args["spans"])
assert len({s["spanId"] for s in spans}) == len(spans), "%s: a span was recorded twice" % name
print("-- %s: %d request(s), gaps %s ms, %d spans" % (name, len(reqs), gaps, len(spans)))
PY
}
