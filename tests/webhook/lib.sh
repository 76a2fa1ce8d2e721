# Helpers for the otelpreload-webhook tests. Source after support/lib.sh:
#   . "$SRC/tests/webhook/lib.sh"
#
# Sets WEBHOOK (the server) and WHTOOL (whtool.py: clients and checks);
# alive uses CA, the directory of the test CA, which each test sets.

WEBHOOK=$BUILD/otelpreload-webhook
# The webhook reads namespace annotations from the cluster it runs in; a
# test run inside a pod must not reach that cluster's API server. Tests
# that want an API give --kube-api (nsannotations.sh).
unset KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT
WHTOOL=$SRC/tests/webhook/whtool.py
need "$WEBHOOK"
command -v openssl >/dev/null || fail "openssl is not installed (bash scripts/deps.sh installs it)"
command -v curl >/dev/null || fail "curl is not installed (bash scripts/deps.sh installs it)"
"$PYTHON" -c 'import jsonpatch' 2>/dev/null ||
	fail "python3-jsonpatch is not installed (bash scripts/deps.sh installs it)"

# make_ca DIR: a test CA in DIR/ca.crt, DIR/ca.key.
make_ca() {
	mkdir -p "$1"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=otelpreload test CA $(basename "$1")" \
		-keyout "$1/ca.key" -out "$1/ca.crt" >"$T/openssl.log" 2>&1 || {
		cat "$T/openssl.log" >&2
		fail "openssl could not make a CA"
	}
}

# make_server_cert CA_DIR OUT_DIR: a serving certificate for 127.0.0.1 and
# the webhook's Service names, signed by the CA of CA_DIR, in
# OUT_DIR/tls.crt and OUT_DIR/tls.key (the names of cert-manager's Secret).
make_server_cert() {
	local ca=$1 out=$2
	mkdir -p "$out"
	printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:otelpreload-webhook.otelpreload-system.svc" \
		"extendedKeyUsage=serverAuth" >"$out/ext.cnf"
	{
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-subj /CN=otelpreload-webhook.otelpreload-system.svc \
			-keyout "$out/tls.key" -out "$out/tls.csr" &&
			openssl x509 -req -in "$out/tls.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" \
				-CAcreateserial -days 2 -extfile "$out/ext.cnf" -out "$out/tls.crt"
	} >"$T/openssl.log" 2>&1 || {
		cat "$T/openssl.log" >&2
		fail "openssl could not make a server certificate"
	}
}

# start_webhook CERT_DIR [options...]: starts the webhook on 127.0.0.1 with
# the pair of CERT_DIR; sets WPID, WPORT, WLOG (its stderr) and URL.
start_webhook() {
	local dir=$1
	shift
	WLOG=$T/webhook.log
	rm -f "$T/webhook.port"
	spawn_server "otelpreload-webhook" "$T/webhook.port" "$WLOG" 10 \
		"$WEBHOOK" --listen 127.0.0.1:0 --port-file "$T/webhook.port" \
		--tls-cert "$dir/tls.crt" --tls-key "$dir/tls.key" "$@"
	WPID=$SERVER_PID
	WPORT=$SERVER_PORT
	URL=https://127.0.0.1:$WPORT
}

# post CA PATH BODY_FILE OUT: POSTs BODY_FILE as JSON; prints the status.
post() {
	curl -sS --max-time 10 --cacert "$1" -H 'Content-Type: application/json' \
		--data-binary @"$3" -o "$4" -w '%{http_code}' "$URL$2"
}

# alive: the webhook still runs and answers /healthz.
alive() {
	kill -0 "$WPID" 2>/dev/null || { cat "$WLOG" >&2; fail "the webhook died"; }
	[ "$(curl -sS --max-time 5 --cacert "$CA/ca.crt" -o /dev/null -w '%{http_code}' \
		"$URL/healthz")" = 200 ] || { cat "$WLOG" >&2; fail "the webhook no longer answers /healthz"; }
}

# vm_hwm PID: the process's peak resident memory, in KiB.
vm_hwm() {
	sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"
}

# stop_webhook: SIGTERM; the webhook must exit 0 within 15 s (a sanitizer
# build reports leaks and errors in its exit status).
stop_webhook() {
	local rc=0 i
	kill -TERM "$WPID"
	for ((i = 0; i < 150; i++)); do
		kill -0 "$WPID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$WPID" 2>/dev/null && fail "the webhook did not stop within 15 s of SIGTERM"
	wait "$WPID" || rc=$?
	[ "$rc" = 0 ] || { cat "$WLOG" >&2; fail "the webhook exited with status $rc after SIGTERM"; }
}
