#!/bin/bash
# Differential run of Redis: redis-server, redis-benchmark and redis-cli,
# once plain and once all preloaded with the shipped library exporting to
# the test receiver. Redis speaks RESP, not HTTP: the library must pass it
# through untouched and make no span of it.
#   - redis-benchmark -t set,get (8 clients; then pipelined -P 16 with
#     two threads and 100-byte values) reports no error, and the server
#     counted exactly the SETs and GETs sent, with no error reply;
#   - a redis-cli session (strings, counters, lists, hashes, sets, sorted
#     sets, binary values, values that read like HTTP requests and
#     responses, error replies), a 1 MB value set with -x and read back,
#     10000 commands through redis-cli --pipe, inline commands on a raw
#     socket: their output is the same byte for byte in both runs;
#   - curl sends an HTTP request to redis-server, which drops it as a
#     cross-protocol attack: curl fails the same way in both runs, Redis
#     still answers afterwards and shuts down cleanly. That request is the
#     only HTTP the traced redis-server sees, and its SERVER span, the only
#     span exported, shows the library was active in it.
. "$(dirname "$0")/../support/lib.sh" "$@"
need "$LIB"
for p in redis-server redis-cli redis-benchmark curl; do
	command -v $p >/dev/null || fail "$p is not installed (scripts/deps.sh installs redis-server and redis-tools)"
done
start_receiver

# Inputs shared by both runs.
"$PYTHON" - "$T" <<'PY'
import sys
t = sys.argv[1]
x, big = 12345, bytearray()
for _ in range(1 << 20):
    x = (x * 1103515245 + 12345) & 0xFFFFFFFF
    big.append(x >> 24)
open(t + "/big.bin", "wb").write(big)

def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out

with open(t + "/mass.resp", "wb") as f:
    for i in range(5000):
        f.write(resp("SET", "pipe:%d" % i, "GET /item/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i))
        f.write(resp("RPUSH", "pipelist", b"HTTP/1.1 200 OK\r\n\r\n" + bytes([i % 256])))
PY
cat >"$T/session.txt" <<'EOF'
SET k1 hello
GET k1
APPEND k1 " world"
GET k1
SET http "GET / HTTP/1.1\r\nHost: example\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n"
GET http
SET post "POST /v1/traces HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
GET post
ECHO "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
INCR counter
INCR counter
INCRBY counter 40
INCR k1
RPUSH list a b c
LRANGE list 0 -1
HSET h f1 v1 f2 v2
HGET h f2
SADD s x y z
SCARD s
ZADD z 1 one 2 two 3 three
ZRANGE z 0 -1 WITHSCORES
SET bin "\x00\x01\xfe\xff\r\n"
STRLEN bin
GET bin
MSET a 1 b 2
MGET a b nokey
EXISTS k1 nokey
GETRANGE k1 0 4
DEL a b
NOSUCHCOMMAND arg
PING
EOF

# run MODE [ENV=VALUE...]: one whole run; its transcript in $T/MODE/transcript.
run() {
	local mode=$1 d=$T/$1 t0 port spid i rc try
	shift
	local ENV=("$@")
	mkdir -p "$d"
	t0=$(now_ms)
	# The port was free a moment ago; if another program took it since,
	# redis-server exits at once and the next port is tried.
	for try in 1 2 3; do
		port=$(closed_port)
		env "${ENV[@]}" ${ENV[0]+OTEL_SERVICE_NAME=redis-server} timeout 120 redis-server --bind 127.0.0.1 \
			--port "$port" --save '' --appendonly no --dir "$d" --logfile "$d/server.log" \
			>"$d/server.out" 2>&1 &
		spid=$!
		track "$spid"
		for ((i = 0; i < 200; i++)); do
			[ "$(redis-cli -p "$port" PING 2>/dev/null)" = PONG ] && break 2
			kill -0 "$spid" 2>/dev/null || break
			sleep 0.05
		done
	done
	[ "$(redis-cli -p "$port" PING 2>/dev/null)" = PONG ] || {
		cat "$d/server.log" >&2
		fail "$mode: redis-server did not start (tried $try ports)"
	}
	if grep -q libotelpreload "/proc/$spid/maps" 2>/dev/null; then echo yes; else echo no; fi >"$d/loaded"
	cli() { env "${ENV[@]}" ${ENV[0]+OTEL_SERVICE_NAME=redis-cli} redis-cli -p "$port" "$@"; }

	# bench NAME OPTIONS...: redis-benchmark -t set,get -n 20000 OPTIONS,
	# which must succeed, silently, with results for SET and GET.
	bench() {
		local out=$d/bench.$1
		shift
		env "${ENV[@]}" ${ENV[0]+OTEL_SERVICE_NAME=redis-benchmark} redis-benchmark -h 127.0.0.1 -p "$port" \
			-t set,get -n 20000 "$@" --csv >"$out.csv" 2>"$out.err"
		rc=$?
		if [ "$rc" != 0 ] || [ -s "$out.err" ]; then
			cat "$out.err" >&2
			fail "$mode: redis-benchmark $* failed ($rc)"
		fi
		if grep -qi error "$out.csv" || ! grep -Eq '^"SET","[0-9.]+"' "$out.csv" ||
			! grep -Eq '^"GET","[0-9.]+"' "$out.csv"; then
			cat "$out.csv" >&2
			fail "$mode: redis-benchmark $* reported errors or no SET and GET results"
		fi
		note "$mode: redis-benchmark $*: $(sed -n 's/^"\(SET\|GET\)","\([0-9.]*\)".*/\1 \2 rps/p' "$out.csv" | tr '\n' ' ')"
	}
	bench simple -c 8
	bench pipelined -c 8 -P 16 --threads 2 -d 100

	{
		echo "== after the benchmarks"
		# Sorted: the order of INFO's sections follows a hash table's.
		cli INFO commandstats | sed -n 's/^\(cmdstat_[a-z|]*\):calls=\([0-9]*\),.*rejected_calls=\([0-9]*\),failed_calls=\([0-9]*\).*/\1 calls=\2 rejected=\3 failed=\4/p' | sort
		cli INFO errorstats | grep -v '^#' | tr -d '\r' | grep . | sort
		cli INFO stats | grep -E '^(total_error_replies|unexpected_error_replies):' | tr -d '\r'
		cli DBSIZE
		# redis-benchmark's values are random bytes: only their length is fixed.
		cli STRLEN key:__rand_int__
		echo "== session"
		cli --no-raw <"$T/session.txt"
		echo "== 1 MB value"
		cli -x SET big <"$T/big.bin"
		cli STRLEN big
		cli --raw GET big | head -c 1048576 | sha256sum
		echo "== --pipe"
		cli --pipe <"$T/mass.resp" 2>&1
		cli --no-raw LLEN pipelist
		cli --no-raw GET pipe:4999
		cli --no-raw LINDEX pipelist 255
		echo "== inline commands on a raw socket"
		env "${ENV[@]}" ${ENV[0]+OTEL_SERVICE_NAME=inline} "$PYTHON" -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
s.sendall(b"PING\r\nGET k1\r\nEXISTS http nokey\r\nGET counter\r\nQUIT\r\n")
got = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    got += d
print(repr(got))' "$port"
		echo "== HTTP to Redis"
		curl --noproxy '*' -sS --max-time 20 "http://127.0.0.1:$port/probe" 2>&1
		echo "curl exit $?"
		cli PING
		echo "== after"
		cli INFO commandstats | sed -n 's/^\(cmdstat_[a-z|]*\):calls=\([0-9]*\),.*/\1 calls=\2/p' | sort
		cli INFO stats | grep -E '^(total_error_replies|unexpected_error_replies):' | tr -d '\r'
	} >"$d/transcript" 2>&1
	cli SHUTDOWN NOSAVE >/dev/null 2>&1
	wait "$spid"
	rc=$?
	[ "$rc" = 0 ] || { tail -n 20 "$d/server.log" >&2; fail "$mode: redis-server exited with $rc"; }
	[ -s "$d/server.out" ] && { cat "$d/server.out" >&2; fail "$mode: redis-server wrote to its stdout or stderr"; }
	grep -c 'SECURITY ATTACK' "$d/server.log" >"$d/attacks"
	note "$mode run: $(($(now_ms) - t0)) ms"
}

run plain
run traced LD_PRELOAD="$LIB" OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" OTEL_BSP_SCHEDULE_DELAY=50

[ "$(cat "$T/plain/loaded") $(cat "$T/traced/loaded")" = "no yes" ] ||
	fail "libotelpreload.so mapped in redis-server: plain $(cat "$T/plain/loaded"), traced $(cat "$T/traced/loaded")"
# The plain transcript must say what the steps were meant to do.
for want in 'cmdstat_set calls=40000 rejected=0 failed=0' 'cmdstat_get calls=40000 rejected=0 failed=0' \
	'total_error_replies:0' "$(sha256sum <"$T/big.bin")" 'errors: 0, replies: 10000' '(integer) 5000' \
	'+PONG\r\n$11\r\nhello world' 'curl: (52) Empty reply from server' "ERR unknown command 'NOSUCHCOMMAND'"; do
	grep -qF -- "$want" "$T/plain/transcript" || { cat "$T/plain/transcript" >&2; fail "the plain transcript lacks '$want'"; }
done
[ "$(cat "$T/plain/attacks") $(cat "$T/traced/attacks")" = "1 1" ] ||
	fail "cross-protocol warnings in the logs: plain $(cat "$T/plain/attacks"), traced $(cat "$T/traced/attacks")"
sed -i 's/\(127\.0\.0\.1:\)[0-9]*/\1PORT/g' "$T/plain/transcript" "$T/traced/transcript"
cmp -s "$T/plain/transcript" "$T/traced/transcript" || {
	diff -u "$T/plain/transcript" "$T/traced/transcript" | head -n 60 >&2
	fail "Redis's output differs under the library"
}
note "transcripts equal: $(wc -l <"$T/plain/transcript") lines"

wait_spans "$RSPANS" 1 10 || fail "the traced run exported no span"
settle "$RSPANS"
check_json "$RSPANS" exe="$(basename "$(readlink -f "$(command -v redis-server)")")" <<'PY'
svc = sorted({s["resource"].get("service.name") for s in rows})
assert svc == ["redis-server"], "spans from %r: RESP made spans" % svc
exe = {s["resource"].get("process.executable.name") for s in rows}
assert exe == {args["exe"]}, "spans from executables %r" % exe
paths = [(s["kind"], s["attributes"].get("url.path")) for s in rows]
assert paths == [(2, "/probe")], "one SERVER span for curl's request, none for RESP: %r" % paths
print("-- 1 span: redis-server's SERVER span for the HTTP request, error.type %s" %
      rows[0]["attributes"].get("error.type"))
PY
pass
