#!/usr/bin/env bash
# A namespace annotated otelpreload.dev/inject: "true" selects its pods: the
# webhook reads the annotation from a fake Kubernetes API server (fakeapi.py,
# HTTPS on 127.0.0.1 with its own CA, a bearer token required). An
# unannotated pod there is patched, one in a plain namespace or annotated
# "false" is not; a slow or failing API gives allowed: true and no patch
# within the API server's deadline; a burst of reviews costs one request;
# a rotated token is read again; the token is never logged; the label path
# still needs no API; in a cluster the API's address comes from
# KUBERNETES_SERVICE_HOST and _PORT; a server the CA does not vouch for is
# not believed.
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/webhook/lib.sh"

# The fake API answers slow* namespaces after this long: more than the
# webhook's 2 s budget for a fetch.
SLOW=6
# The API server gives the webhook timeoutSeconds (5 in deploy/); an answer
# must come well within it even when the API does not.
DEADLINE=3.5

note "--kube-api takes an https:// URL or off"
for bad in http://127.0.0.1:6443 https:// "https://a b"; do
	rc=0
	"$WEBHOOK" --kube-api "$bad" --listen 127.0.0.1:0 >"$T/bad.out" 2>&1 || rc=$?
	[ "$rc" = 2 ] && grep -q "is not an https:// URL or off" "$T/bad.out" ||
		{ cat "$T/bad.out" >&2; fail "--kube-api=$bad gave status $rc"; }
done

CA=$T/ca
make_ca "$CA"
make_server_cert "$CA" "$T/tls"
make_ca "$T/kca"
make_server_cert "$T/kca" "$T/kapi"

# The service account's files as the kubelet lays them out: a ..data
# symlink swapped atomically on rotation.
TOKEN1=tok1-$RANDOM$RANDOM-eyJhbGciOiJSUzI1NiJ9
TOKEN2=tok2-$RANDOM$RANDOM-eyJhbGciOiJSUzI1NiJ9
mkdir -p "$T/sa/v1"
printf '%s' "$TOKEN1" >"$T/sa/v1/token"
ln -s v1 "$T/sa/..data"
ln -s ..data/token "$T/sa/token"
# What the fake API accepts, kept apart so the test can rotate each side.
printf '%s\n' "$TOKEN1" >"$T/api-token"

API_LOG=$T/api.log
: >"$API_LOG"
spawn_server "the fake API server" "$T/api.port" "$T/api.err" 10 \
	"$PYTHON" "$SRC/tests/webhook/fakeapi.py" "$T/api.port" "$API_LOG" \
	"$T/kapi/tls.crt" "$T/kapi/tls.key" "$T/api-token" 100 "$SLOW"
APORT=$SERVER_PORT
IMAGE=registry.example/otelpreload-init:9.9.9
ENDPOINT=http://otel-collector.observability:4318
start_webhook "$T/tls" --image "$IMAGE" --endpoint "$ENDPOINT" \
	--kube-api "https://127.0.0.1:$APORT" --kube-token "$T/sa/token" \
	--kube-ca "$T/kca/ca.crt"
grep -q "reading namespace annotations from https://127.0.0.1:$APORT" "$WLOG" ||
	{ cat "$WLOG" >&2; fail "the webhook does not say where it reads namespaces"; }

# requests NS: how many requests the fake API has had for namespace NS.
requests() {
	grep -c "^GET /api/v1/namespaces/$1 " "$API_LOG"
}

# review NAME NS [whtool options]: reviews a pod of namespace NS through
# /mutate; leaves the response in $T/NAME.out and sets STATUS and SECONDS_TAKEN.
review() {
	local name=$1 ns=$2 out
	shift 2
	"$PYTHON" "$WHTOOL" review "$T/$name.json" --namespace "$ns" "$@"
	out=$(curl -sS --max-time 10 --cacert "$CA/ca.crt" -H 'Content-Type: application/json' \
		--data-binary @"$T/$name.json" -o "$T/$name.out" -w '%{http_code} %{time_total}' \
		"$URL/mutate")
	STATUS=${out% *}
	SECONDS_TAKEN=${out#* }
	[ "$STATUS" = 200 ] || fail "POST /mutate for $name answered $STATUS"
}

patched() {
	"$PYTHON" "$WHTOOL" check-patched "$T/$1.json" "$T/$1.out" "$IMAGE" "$ENDPOINT"
}

unpatched() {
	"$PYTHON" "$WHTOOL" check-unpatched "$T/$1.json" "$T/$1.out"
}

within_deadline() {
	"$PYTHON" -c 'import sys; sys.exit(float(sys.argv[1]) >= float(sys.argv[2]))' \
		"$SECONDS_TAKEN" "$DEADLINE"
}

note "an unannotated pod in an annotated namespace is patched"
review ns-annotated annotated
patched ns-annotated || fail "a pod of an annotated namespace was not patched"
[ "$(requests annotated)" = 1 ] || { cat "$API_LOG" >&2; fail "no single request for the namespace"; }
grep -q "^GET /api/v1/namespaces/annotated auth=ok partial=1$" "$API_LOG" ||
	{ cat "$API_LOG" >&2; fail "the namespace was not asked for as PartialObjectMetadata with the token"; }

note "in a plain namespace, or one without annotations, it is not"
review ns-plain plain
unpatched ns-plain || fail "a pod of a plain namespace was patched"
review ns-bare bare
unpatched ns-bare || fail "a pod of a namespace without annotations was patched"
review ns-optout optout
unpatched ns-optout || fail "a pod of a namespace annotated false was patched"
review ns-missing no-such-namespace
unpatched ns-missing || fail "a pod of a namespace the API does not know was patched"

note "a pod annotated false in an annotated namespace is not; one annotated true needs no request"
review pod-false annotated-2 --annotate false
unpatched pod-false || fail "a pod annotated false in an annotated namespace was patched"
review pod-true never-asked --annotate true
patched pod-true || fail "a pod annotated true was not patched"
[ "$(requests annotated-2)" = 0 ] && [ "$(requests never-asked)" = 0 ] ||
	{ cat "$API_LOG" >&2; fail "the API was asked about a namespace whose annotations cannot matter"; }

note "a slow API: allowed, no patch, within ${DEADLINE}s"
review ns-slow slow
unpatched ns-slow || fail "a pod of a namespace the API was slow to give was patched"
within_deadline || fail "the review took ${SECONDS_TAKEN}s with a slow API (limit ${DEADLINE}s)"
[ "$(requests slow)" = 1 ] || { cat "$API_LOG" >&2; fail "the slow namespace was not asked for once"; }
grep -q "cannot read namespace slow from https://127.0.0.1:$APORT: no answer within 2000 ms" "$WLOG" ||
	{ cat "$WLOG" >&2; fail "no log line for the slow API"; }

note "a failing API (500): allowed, no patch, and the failure is cached"
review ns-broken broken
unpatched ns-broken || fail "a pod of a namespace the API failed on was patched"
within_deadline || fail "the review took ${SECONDS_TAKEN}s with a failing API"
review ns-broken2 broken
unpatched ns-broken2 || fail "the second pod of a namespace the API failed on was patched"
[ "$(requests broken)" = 1 ] ||
	{ cat "$API_LOG" >&2; fail "a failure was not cached: $(requests broken) requests"; }
grep -q "cannot read namespace broken from .*: HTTP 500; taking it as not annotated" "$WLOG" ||
	{ cat "$WLOG" >&2; fail "no log line for the failing API"; }

note "a burst: 16 reviews at once and 10 after them cost one request"
"$PYTHON" "$WHTOOL" review "$T/burst.json" --namespace annotated-burst
pids=()
for i in $(seq 1 16); do
	curl -sS --max-time 10 --cacert "$CA/ca.crt" -H 'Content-Type: application/json' \
		--data-binary @"$T/burst.json" -o "$T/burst.$i.out" "$URL/mutate" &
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || fail "a concurrent review failed"
done
for i in $(seq 17 26); do
	curl -sS --max-time 10 --cacert "$CA/ca.crt" -H 'Content-Type: application/json' \
		--data-binary @"$T/burst.json" -o "$T/burst.$i.out" "$URL/mutate" ||
		fail "review $i of the burst failed"
done
for i in $(seq 1 26); do
	"$PYTHON" "$WHTOOL" check-patched "$T/burst.json" "$T/burst.$i.out" "$IMAGE" "$ENDPOINT" ||
		fail "review $i of the burst was not patched"
done
[ "$(requests annotated-burst)" = 1 ] ||
	{ cat "$API_LOG" >&2; fail "26 reviews made $(requests annotated-burst) requests, expected 1"; }

note "token rotation: the next request carries the new token"
# The API moves to the new token first: the webhook's old one is refused.
printf '%s\n' "$TOKEN2" >"$T/api-token"
review stale annotated-stale
unpatched stale || fail "a pod was patched although the API refused the token"
grep -q "^GET /api/v1/namespaces/annotated-stale auth=bad" "$API_LOG" ||
	{ cat "$API_LOG" >&2; fail "the old token was not refused"; }
grep -q "cannot read namespace annotated-stale .*HTTP 401" "$WLOG" ||
	{ cat "$WLOG" >&2; fail "no log line for the refused token"; }
# Then the kubelet's way: a new directory, the ..data symlink swapped.
mkdir "$T/sa/v2"
printf '%s' "$TOKEN2" >"$T/sa/v2/token"
ln -s v2 "$T/sa/..data_tmp"
mv -T "$T/sa/..data_tmp" "$T/sa/..data"
rm -r "$T/sa/v1"
review rotated annotated-rotated
patched rotated || fail "a pod was not patched after the token rotated"
grep -q "^GET /api/v1/namespaces/annotated-rotated auth=ok" "$API_LOG" ||
	{ cat "$API_LOG" >&2; fail "the request after the rotation did not carry the new token"; }

note "the label path (/mutate-namespace) needs no API"
before=$(wc -l <"$API_LOG")
status=$(post "$CA/ca.crt" /mutate-namespace "$T/ns-plain.json" "$T/label.out")
[ "$status" = 200 ] || fail "POST /mutate-namespace answered $status"
"$PYTHON" "$WHTOOL" check-patched "$T/ns-plain.json" "$T/label.out" "$IMAGE" "$ENDPOINT" ||
	fail "a pod of a labelled namespace was not patched"
[ "$(wc -l <"$API_LOG")" = "$before" ] || fail "the label path asked the API"

note "the token is never logged"
alive
! grep -q -e "$TOKEN1" -e "$TOKEN2" -e tok1- -e tok2- "$WLOG" ||
	{ cat "$WLOG" >&2; fail "the webhook logged the token"; }
stop_webhook

note "in a cluster, the API is KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT"
KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$APORT \
	start_webhook "$T/tls" --image "$IMAGE" --endpoint "$ENDPOINT" \
	--kube-token "$T/sa/token" --kube-ca "$T/kca/ca.crt"
grep -q "reading namespace annotations from https://127.0.0.1:$APORT" "$WLOG" ||
	{ cat "$WLOG" >&2; fail "the webhook did not take the API from the environment"; }
review env annotated-env
patched env || fail "a pod of an annotated namespace was not patched with the API from the environment"
stop_webhook

note "an API server the CA does not vouch for is not believed"
# The webhook's own CA, not the API's: the handshake must fail.
start_webhook "$T/tls" --image "$IMAGE" --endpoint "$ENDPOINT" \
	--kube-api "https://127.0.0.1:$APORT" --kube-token "$T/sa/token" --kube-ca "$CA/ca.crt"
review wrong-ca annotated-wrong-ca
unpatched wrong-ca || fail "a pod was patched on the word of an API server the CA does not sign"
[ "$(requests annotated-wrong-ca)" = 0 ] || fail "a request reached an API server the CA does not sign"
grep -q "cannot read namespace annotated-wrong-ca from" "$WLOG" ||
	{ cat "$WLOG" >&2; fail "no log line for the untrusted API server"; }
stop_webhook
pass
