#!/usr/bin/env bash
# otelpreload-webhook survives what it is sent: malformed JSON, objects that
# are not an AdmissionReview and an empty body get allowed: true with no
# patch (200, never a 500); unsupported HTTP gets its 4xx and a close; a
# 64 MiB body gets 413 at once without being read into memory (peak RSS
# stays small); plain HTTP and garbage on the TLS port are turned away;
# slow clients (slowloris: slow heads, half handshakes, silent connections)
# neither delay a real request nor outlive the deadlines, even when they
# outnumber --max-connections; and the webhook is alive at the end.
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/webhook/lib.sh"

CA=$T/ca
make_ca "$CA"
make_server_cert "$CA" "$T/tls"
start_webhook "$T/tls" --image test/init:1

# unpatched NAME PATH BODY: 200 and an allowed review without patch or uid.
unpatched() {
	local status
	status=$(post "$CA/ca.crt" "$2" "$3" "$T/$1.out") || fail "$1: curl failed"
	[ "$status" = 200 ] || fail "$1: answered $status, expected 200"
	"$PYTHON" "$WHTOOL" check-unpatched - "$T/$1.out" || fail "$1: not an allowed review without patch"
}

note "bodies that are not a review"
printf '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":' >"$T/trunc.json"
unpatched truncated /mutate "$T/trunc.json"
printf '\xff\xfe{]]]\x00' >"$T/garbage.json"
unpatched garbage /mutate "$T/garbage.json"
printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{"a":"b"}}' >"$T/cm.json"
unpatched configmap /mutate "$T/cm.json"
printf '[1,2,3]' >"$T/array.json"
unpatched array /mutate "$T/array.json"
: >"$T/empty.json"
unpatched empty /mutate "$T/empty.json"
"$PYTHON" -c 'print("[" * 100000 + "]" * 100000)' >"$T/deep.json"
unpatched deep /mutate-namespace "$T/deep.json"

note "unsupported HTTP: a 4xx and a close"
# raw NAME EXPECTED: sends stdin's request (Python escapes) on one TLS
# connection; the answer must be EXPECTED ("STATUS closed").
raw() {
	local got
	got=$("$PYTHON" "$WHTOOL" raw "$WPORT" "$CA/ca.crt" -) || fail "$1: the raw client failed"
	[ "$got" = "$2" ] || fail "$1: got '$got', expected '$2'"
}
raw "GET /mutate" "405 closed" <<<'GET /mutate HTTP/1.1\r\nHost: w\r\n\r\n'
raw "POST /healthz" "405 closed" <<<'POST /healthz HTTP/1.1\r\nHost: w\r\nContent-Length: 0\r\n\r\n'
raw "wrong path" "404 closed" <<<'POST /validate HTTP/1.1\r\nHost: w\r\nContent-Length: 2\r\n\r\n{}'
raw "chunked" "411 closed" <<<'POST /mutate HTTP/1.1\r\nHost: w\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n'
raw "no length" "411 closed" <<<'POST /mutate HTTP/1.1\r\nHost: w\r\n\r\n'
raw "two lengths" "400 closed" <<<'POST /mutate HTTP/1.1\r\nHost: w\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}'
raw "bad length" "400 closed" <<<'POST /mutate HTTP/1.1\r\nHost: w\r\nContent-Length: -1\r\n\r\n'
raw "text body" "415 closed" <<<'POST /mutate HTTP/1.1\r\nHost: w\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}'
raw "expect" "417 closed" <<<'POST /mutate HTTP/1.1\r\nHost: w\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\n{}'
raw "no host" "400 closed" <<<'GET /healthz HTTP/1.1\r\n\r\n'
raw "folded header" "400 closed" <<<'GET /healthz HTTP/1.1\r\nHost: w\r\nX-A: 1\r\n  folded\r\n\r\n'
raw "bare LF" "400 closed" <<<'GET /healthz HTTP/1.1\r\nHost: w\nX-A: 1\r\n\r\n'
raw "request line" "400 closed" <<<'GET  /healthz HTTP/1.1\r\nHost: w\r\n\r\n'
raw "HTTP/2.0" "505 closed" <<<'GET /healthz HTTP/2.0\r\nHost: w\r\n\r\n'
"$PYTHON" -c 'import sys; sys.stdout.write("GET /healthz HTTP/1.1\\r\\nHost: w\\r\\nX-Big: " + "a" * 9000 + "\\r\\n\\r\\n")' >"$T/bighead"
got=$("$PYTHON" "$WHTOOL" raw "$WPORT" "$CA/ca.crt" "$T/bighead")
[ "$got" = "431 closed" ] || fail "a 9 KB head: got '$got', expected '431 closed'"
raw "HTTP/1.0" "200 closed" <<<'GET /healthz HTTP/1.0\r\n\r\n'
raw "close" "200 closed" <<<'GET /healthz HTTP/1.1\r\nHost: w\r\nConnection: close\r\n\r\n'
raw "keep-alive" "200 open" <<<'GET /readyz HTTP/1.1\r\nHost: w\r\n\r\n'

note "a 64 MiB body: 413 at once, never read into memory"
hwm0=$(vm_hwm "$WPID")
head -c $((64 << 20)) /dev/zero | tr '\0' ' ' >"$T/huge.json"
start=$(date +%s%N)
status=$(post "$CA/ca.crt" /mutate "$T/huge.json" "$T/huge.out")
ms=$((($(date +%s%N) - start) / 1000000))
[ "$status" = 413 ] || fail "a 64 MiB body with curl: answered $status, expected 413"
[ "$ms" -lt 3000 ] || fail "a 64 MiB body with curl: 413 took $ms ms"
read -r hstatus hsecs hsent < <("$PYTHON" "$WHTOOL" huge "$WPORT" "$CA/ca.crt" $((64 << 20)))
[ "$hstatus" = 413 ] || fail "a streamed 64 MiB body: answered $hstatus, expected 413"
awk -v s="$hsecs" 'BEGIN { exit !(s < 2) }' || fail "a streamed 64 MiB body: 413 after $hsecs s"
hwm1=$(vm_hwm "$WPID")
note "413 for curl in $ms ms, for a streaming client in $hsecs s ($hsent bytes sent);" \
	"peak RSS $hwm0 KiB before, $hwm1 KiB after"
[ "$hwm1" -lt $((hwm0 + (8 << 10))) ] || fail "peak RSS grew from $hwm0 to $hwm1 KiB"
# Bodies up to --max-body (4 MiB) are read; however many come at once,
# they share 8 x 4 MiB (the rest get 503), within the Deployment's 128Mi.
head -c $((4 << 20)) /dev/zero | tr '\0' ' ' >"$T/big.json"
pids=()
for i in $(seq 12); do
	post "$CA/ca.crt" /mutate "$T/big.json" "$T/big.$i.out" >"$T/big.$i.status" &
	pids+=($!)
done
wait "${pids[@]}"
ok=0
for i in $(seq 12); do
	s=$(cat "$T/big.$i.status")
	[ "$s" = 200 ] || [ "$s" = 503 ] || fail "a 4 MiB body: answered $s"
	[ "$s" = 200 ] && ok=$((ok + 1))
done
[ "$ok" -ge 8 ] || fail "only $ok of 12 bodies of 4 MiB were served"
hwm2=$(vm_hwm "$WPID")
note "12 bodies of 4 MiB at once: $ok served; peak RSS $hwm2 KiB"
[ "$hwm2" -lt $((128 << 10)) ] || fail "peak RSS reached $hwm2 KiB"

note "plain HTTP and garbage on the TLS port"
body=$(curl -sS --max-time 5 "http://127.0.0.1:$WPORT/healthz" -w ' %{http_code}')
[ "$body" = "this port speaks HTTPS, not plain HTTP
 400" ] || fail "plain HTTP: got '$body'"
for junk in '\x16\x03\x01\x00\x05hello' '\x16\x03\x03\xff\xff' 'SSH-2.0-OpenSSH_9.2\r\n' '\x80\x80\x01\x03\x01'; do
	"$PYTHON" - "$WPORT" "$junk" <<'PY' || fail "garbage handshake '$junk' was not closed"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=8)
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
t0 = time.monotonic()
try:
    while s.recv(4096):
        pass
except ConnectionResetError:
    pass
sys.exit(0 if time.monotonic() - t0 < 7 else 1)
PY
done
grep -q "tls handshake failed" "$WLOG" || fail "no log line for a failed handshake"
alive

# reviews_among_slow WHAT: two seconds after slow clients started, three
# reviews of $T/review.json, a second apart, each answered 200 within 2 s.
reviews_among_slow() {
	local i start status ms
	sleep 2
	for i in 1 2 3; do
		start=$(date +%s%N)
		status=$(post "$CA/ca.crt" /mutate "$T/review.json" "$T/during.out")
		ms=$((($(date +%s%N) - start) / 1000000))
		[ "$status" = 200 ] || fail "$1: answered $status"
		[ "$ms" -lt 2000 ] || fail "$1 took $ms ms"
		note "$1: $ms ms"
		sleep 1
	done
}

note "slow clients do not delay a real request"
"$PYTHON" "$WHTOOL" review "$T/review.json" --annotate true
"$PYTHON" "$WHTOOL" slow "$WPORT" "$CA/ca.crt" 50 20 "$T/slow.txt" &
slow_pid=$!
track "$slow_pid"
reviews_among_slow "a review among 50 slow clients"
wait "$slow_pid"
# Deadlines: the handshake 5 s, the head 10 s after its first byte.
cat "$T/slow.txt"
awk '$2 == "open" || $2 == "data" || $2 + 0 > 13 { bad++ } END { exit bad > 0 }' "$T/slow.txt" ||
	fail "slow clients were not cut off by the deadlines"
alive

note "slow clients beyond --max-connections are displaced"
stop_webhook
start_webhook "$T/tls" --image test/init:1 --max-connections 8
"$PYTHON" "$WHTOOL" slow "$WPORT" "$CA/ca.crt" 50 20 "$T/slow2.txt" &
slow_pid=$!
track "$slow_pid"
reviews_among_slow "a review among 50 slow clients with --max-connections 8"
wait "$slow_pid"
alive
stop_webhook
pass
