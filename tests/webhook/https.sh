#!/usr/bin/env bash
# otelpreload-webhook answers real AdmissionReview v1 requests over HTTPS,
# verified by curl against a CA made here: the response echoes the uid,
# allows the pod, and its JSONPatch, applied by python3-jsonpatch, gives the
# injected pod; a pod without the annotation gets no patch; a namespace that
# opted in (/mutate-namespace) selects a pod without the annotation unless
# the pod says "false"; probes, keep-alive, and one log line per request
# that never holds the request's contents.
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/webhook/lib.sh"

CA=$T/ca
make_ca "$CA"
make_server_cert "$CA" "$T/tls"
IMAGE=registry.example/otelpreload-init:9.9.9
ENDPOINT=http://otel-collector.observability:4318
start_webhook "$T/tls" --image "$IMAGE" --endpoint "$ENDPOINT"

note "probes"
[ "$(curl -sS --cacert "$CA/ca.crt" "$URL/healthz")" = ok ] || fail "/healthz did not answer ok"
[ "$(curl -sS --cacert "$CA/ca.crt" -o /dev/null -w '%{http_code}' "$URL/readyz")" = 200 ] ||
	fail "/readyz did not answer 200"
[ "$(curl -sS --cacert "$CA/ca.crt" -I -o /dev/null -w '%{http_code}' "$URL/healthz")" = 200 ] ||
	fail "HEAD /healthz did not answer 200"

note "an annotated pod is patched"
"$PYTHON" "$WHTOOL" review "$T/annotated.json" --annotate true
status=$(post "$CA/ca.crt" "/mutate?timeout=5s" "$T/annotated.json" "$T/annotated.out")
[ "$status" = 200 ] || fail "POST /mutate answered $status"
"$PYTHON" "$WHTOOL" check-patched "$T/annotated.json" "$T/annotated.out" "$IMAGE" "$ENDPOINT" ||
	fail "the review of an annotated pod is not the expected patch"
curl -sS --cacert "$CA/ca.crt" -D "$T/headers" -o /dev/null -H 'Content-Type: application/json' \
	--data-binary @"$T/annotated.json" "$URL/mutate"
grep -qi '^content-type: application/json' "$T/headers" || fail "the review is not served as JSON"

note "a pod without the annotation, or annotated false, is not"
"$PYTHON" "$WHTOOL" review "$T/plain.json" --uid 0f3e7a56-0000-4000-8000-000000000001
status=$(post "$CA/ca.crt" /mutate "$T/plain.json" "$T/plain.out")
[ "$status" = 200 ] || fail "POST /mutate of a plain pod answered $status"
"$PYTHON" "$WHTOOL" check-unpatched "$T/plain.json" "$T/plain.out" ||
	fail "a pod without the annotation was patched"
"$PYTHON" "$WHTOOL" review "$T/optout.json" --annotate false
status=$(post "$CA/ca.crt" /mutate "$T/optout.json" "$T/optout.out")
[ "$status" = 200 ] && "$PYTHON" "$WHTOOL" check-unpatched "$T/optout.json" "$T/optout.out" ||
	fail "a pod annotated false was patched (status $status)"

note "a namespace that opted in selects its pods"
status=$(post "$CA/ca.crt" /mutate-namespace "$T/plain.json" "$T/ns.out")
[ "$status" = 200 ] || fail "POST /mutate-namespace answered $status"
"$PYTHON" "$WHTOOL" check-patched "$T/plain.json" "$T/ns.out" "$IMAGE" "$ENDPOINT" ||
	fail "a pod of an opted-in namespace was not patched"
status=$(post "$CA/ca.crt" /mutate-namespace "$T/optout.json" "$T/nsout.out")
[ "$status" = 200 ] && "$PYTHON" "$WHTOOL" check-unpatched "$T/optout.json" "$T/nsout.out" ||
	fail "a pod annotated false in an opted-in namespace was patched (status $status)"

note "keep-alive: two reviews and a probe on one connection"
curl -sS -v --cacert "$CA/ca.crt" -H 'Content-Type: application/json' \
	--data-binary @"$T/annotated.json" -o "$T/ka1.out" "$URL/mutate" \
	--next --cacert "$CA/ca.crt" -H 'Content-Type: application/json' \
	--data-binary @"$T/plain.json" -o "$T/ka2.out" "$URL/mutate" \
	--next --cacert "$CA/ca.crt" -o /dev/null "$URL/readyz" 2>"$T/ka.err" ||
	fail "curl failed on a kept-alive connection"
[ "$(grep -c 'Re-using existing connection' "$T/ka.err")" = 2 ] || {
	cat "$T/ka.err" >&2
	fail "the connection was not kept alive"
}
"$PYTHON" "$WHTOOL" check-patched "$T/annotated.json" "$T/ka1.out" "$IMAGE" "$ENDPOINT" &&
	"$PYTHON" "$WHTOOL" check-unpatched "$T/plain.json" "$T/ka2.out" ||
	fail "a kept-alive connection mixed up its answers"

note "the log: one line per request, no contents"
sleep 0.2
grep -q "POST /mutate 200 uid=a7e5c2d4-1b3f-4e6a-9c8d-0f1e2d3c4b5a patched" "$WLOG" ||
	{ cat "$WLOG" >&2; fail "no log line for the patched review"; }
grep -q "POST /mutate 200 uid=0f3e7a56-0000-4000-8000-000000000001 not patched: " "$WLOG" ||
	{ cat "$WLOG" >&2; fail "no log line saying why the plain pod was not patched"; }
requests=$(grep -c -E '(GET|HEAD|POST) /[a-z-]+ [0-9]{3}' "$WLOG")
[ "$requests" = 12 ] || { cat "$WLOG" >&2; fail "$requests request lines in the log, expected 12"; }
! grep -q -e s3cr3t -e checkout -e registry.example/checkout "$WLOG" ||
	{ cat "$WLOG" >&2; fail "the log holds the request's contents"; }
alive
stop_webhook
pass
