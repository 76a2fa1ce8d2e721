#!/usr/bin/env bash
# otelpreload-webhook's life: it refuses bad options by name, picks up a
# rotated certificate (the kubelet's symlink swap of a Secret volume) and
# keeps the old one when the new pair does not load, and on SIGTERM fails
# /readyz, serves through --shutdown-delay, stops accepting, finishes the
# request in flight and exits 0.
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/webhook/lib.sh"

note "options"
"$WEBHOOK" --help >"$T/help" || fail "--help failed"
for o in --image --listen --tls-cert --tls-key --mount-path --size-limit --endpoint --max-body \
	--max-connections --shutdown-delay --port-file --image-pull-policy; do
	grep -q -- "$o" "$T/help" || fail "--help does not mention $o"
done
# bad EXIT MESSAGE ARGS...: the webhook exits EXIT, naming the fault.
bad() {
	local want=$1 msg=$2 rc=0
	shift 2
	"$WEBHOOK" "$@" >"$T/bad.out" 2>"$T/bad.err" || rc=$?
	[ "$rc" = "$want" ] || fail "$*: exit $rc, expected $want"
	grep -qF -- "$msg" "$T/bad.err" || { cat "$T/bad.err" >&2; fail "$*: no '$msg' in the message"; }
}
bad 2 "--max-body=12x" --max-body=12x
bad 2 "--max-body=65Mi" --max-body=65Mi
bad 2 "--max-connections=0" --max-connections=0
bad 2 "--shutdown-delay=soon" --shutdown-delay=soon
bad 2 "--listen=localhost:8443" --listen=localhost:8443
bad 2 "--frobnicate" --frobnicate
bad 1 "$T/nowhere/tls.crt" --tls-cert "$T/nowhere/tls.crt" --tls-key "$T/nowhere/tls.key" \
	--listen 127.0.0.1:0

note "certificate rotation"
CA=$T/ca1
make_ca "$T/ca1"
make_ca "$T/ca2"
make_server_cert "$T/ca1" "$T/pair1"
make_server_cert "$T/ca2" "$T/pair2"
make_server_cert "$T/ca2" "$T/pair3"
# A Secret volume as the kubelet writes it: the files are symlinks through
# ..data, which is swapped by a rename.
mkdir -p "$T/tls/..v1"
cp "$T/pair1/tls.crt" "$T/pair1/tls.key" "$T/tls/..v1/"
ln -s ..v1 "$T/tls/..data"
ln -s ..data/tls.crt "$T/tls/tls.crt"
ln -s ..data/tls.key "$T/tls/tls.key"
# swap NAME DIR: makes DIR's pair current, as the kubelet does.
swap() {
	mkdir -p "$T/tls/..$1"
	cp "$2/tls.crt" "$2/tls.key" "$T/tls/..$1/"
	ln -s "..$1" "$T/tls/..data_tmp"
	mv -T "$T/tls/..data_tmp" "$T/tls/..data"
}
start_webhook "$T/tls" --shutdown-delay 2
[ "$(curl -sS --cacert "$T/ca1/ca.crt" "$URL/healthz")" = ok ] || fail "not serving the first certificate"
swap v2 "$T/pair2"
for ((i = 0; i < 50; i++)); do
	curl -s --cacert "$T/ca2/ca.crt" -o /dev/null "$URL/healthz" && break
	sleep 0.1
done
[ "$(curl -sS --cacert "$T/ca2/ca.crt" "$URL/healthz")" = ok ] ||
	{ cat "$WLOG" >&2; fail "the rotated certificate was not picked up within 5 s"; }
! curl -s --cacert "$T/ca1/ca.crt" -o /dev/null "$URL/healthz" || fail "still serving the first certificate"
grep -q "reloaded the certificate" "$WLOG" || fail "no log line for the reload"
note "rotated after $i tries"
CA=$T/ca2
# A pair that does not match: reported, and the current one stays.
mkdir -p "$T/mismatch"
cp "$T/pair1/tls.crt" "$T/mismatch/tls.crt"
cp "$T/pair3/tls.key" "$T/mismatch/tls.key"
swap v3 "$T/mismatch"
sleep 2.5
grep -q "still serving the previous certificate" "$WLOG" ||
	{ cat "$WLOG" >&2; fail "a mismatched pair was not reported"; }
[ "$(curl -sS --cacert "$T/ca2/ca.crt" "$URL/healthz")" = ok ] ||
	fail "a mismatched pair replaced the working one"
swap v4 "$T/pair3"
for ((i = 0; i < 50; i++)); do
	[ "$(grep -c "reloaded the certificate" "$WLOG")" = 2 ] && break
	sleep 0.1
done
[ "$(grep -c "reloaded the certificate" "$WLOG")" = 2 ] || fail "the pair after a bad one was not loaded"
alive

note "SIGTERM"
"$PYTHON" "$WHTOOL" review "$T/review.json" --annotate true
"$PYTHON" "$WHTOOL" inflight "$WPORT" "$T/ca2/ca.crt" "$T/review.json" 4 "$T/inflight" &
inflight=$!
track "$inflight"
wait_file "$T/inflight.started" 10 || fail "the in-flight client did not start"
sleep 0.3
term_at=$(date +%s%N)
kill -TERM "$WPID"
sleep 0.3
[ "$(curl -sS --cacert "$CA/ca.crt" -o /dev/null -w '%{http_code}' "$URL/readyz")" = 503 ] ||
	fail "/readyz did not fail after SIGTERM"
[ "$(curl -sS --cacert "$CA/ca.crt" -o /dev/null -w '%{http_code}' "$URL/healthz")" = 200 ] ||
	fail "/healthz failed during --shutdown-delay"
sleep 2.2
rc=0
curl -sS --max-time 3 --cacert "$CA/ca.crt" -o /dev/null "$URL/healthz" 2>"$T/refused" || rc=$?
[ "$rc" = 7 ] || fail "still accepting after --shutdown-delay (curl exit $rc)"
kill -0 "$WPID" 2>/dev/null || fail "exited before the request in flight was answered"
wait "$inflight" || fail "the in-flight client failed"
[ "$(cat "$T/inflight")" = "200 closed" ] || fail "the request in flight got '$(cat "$T/inflight")'"
rc=0
wait "$WPID" || rc=$?
ms=$((($(date +%s%N) - term_at) / 1000000))
[ "$rc" = 0 ] || { cat "$WLOG" >&2; fail "exit status $rc after SIGTERM"; }
grep -q "stopped" "$WLOG" || fail "no 'stopped' line"
note "exited 0, $ms ms after SIGTERM"
[ "$ms" -lt 8000 ] || fail "took $ms ms to stop"
pass
