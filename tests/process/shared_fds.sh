#!/bin/bash
# Threads hammering shared fds (tests/process/hammer.c): 12 threads share
# a pool of 6 kept-alive connections, replacing them as they go (close +
# connect, dup2 of a new connection onto the old number) while 2 more
# threads open, use and close connections of their own, so fd numbers are
# freed and taken all the time. Untraced and traced alike: every answer
# right byte for byte (checked by hammer), every request exactly as sent
# plus, traced, one traceparent (checked by httpd, which answers 400 to
# anything else), as many connections as hammer opened; traced, one span
# per request, each request's once, all 200.
. "$(dirname "$0")/plib.sh" "$@"
need "$LIB" "$PBIN/hammer"
start_httpd
start_receiver

# hammer OUT [ENV=VALUE...]: hammer under a watchdog, with httpd's
# counters before and after in OUT.before and OUT.after.
hammer() {
	local out=$1 t0
	shift
	httpd_stats >"$out.before"
	t0=$(now_ms)
	timeout -s KILL 100 env "$@" "$PBIN/hammer" -p "$HPORT" -t 12 -n 150 -s 6 -r 8 -c 2 \
		>"$out" 2>"$out.err"
	RC=$? MS=$(elapsed_ms "$t0")
	httpd_stats >"$out.after"
}

# server_check OUT TRACED: httpd saw what hammer says it sent.
server_check() {
	check /dev/null out="$1" traced="$2" <<'PY'
import json
h = records(open(args["out"]).read(), "hammer")[0]
b = json.load(open(args["out"] + ".before"))
a = json.load(open(args["out"] + ".after"))
d = {k: a[k] - b[k] for k in a}
n = int(h["requests"])
assert h["errors"] == "0" and n == 12 * 150 + 2 * 150, h
assert d["bad"] == 0, "httpd answered 400 to %d requests (see httpd.log)" % d["bad"]
assert d["reqs"] == n, "httpd answered %d requests, hammer got %d answers" % (d["reqs"], n)
# The counters request itself is one more connection.
assert d["conns"] == int(h["conns"]) + 1, "httpd saw %d connections, hammer opened %s" % (d["conns"] - 1, h["conns"])
want = "tp1" if args["traced"] == "1" else "tp0"
assert d[want] == n, "%s: %d of %d" % (want, d[want], n)
print("-- %s: %d requests, %s connections (%s close+connect, %s dup2)" %
      ("traced" if args["traced"] == "1" else "untraced", n, h["conns"], h["reconnects"], h["dup2s"]))
PY
}

hammer "$T/plain"
[ "$RC" = 0 ] || { cat "$T/plain.err" >&2; fail "hammer failed untraced ($RC)"; }
server_check "$T/plain" 0
plain_ms=$MS

hammer "$T/traced" LD_PRELOAD="$LIB" OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" OTEL_BSP_SCHEDULE_DELAY=100 \
	OTEL_BSP_MAX_QUEUE_SIZE=16384
[ "$RC" = 0 ] || { cat "$T/traced" "$T/traced.err" >&2; fail "hammer failed under the library ($RC)"; }
[ -s "$T/traced.err" ] && { cat "$T/traced.err" >&2; fail "hammer wrote to stderr under the library"; }
server_check "$T/traced" 1
settle "$RSPANS"
check "$RSPANS" out="$T/traced" <<'PY'
h = records(open(args["out"]).read(), "hammer")[0]
n = int(h["requests"])
paths = Counter(path_of(s) for s in rows)
assert len(rows) == n, "%d spans for %d requests" % (len(rows), n)
assert len(paths) == n, "repeated: %s" % [p for p, c in paths.items() if c > 1][:5]
want = {"/h/%d/%d" % (t, j) for t in range(12) for j in range(1, 151)} | \
       {"/h/churn%d/%d" % (k, j) for k in range(2) for j in range(1, 151)}
assert set(paths) == want, "unexpected paths %s" % sorted(set(paths) - want)[:5]
codes = Counter(s["attributes"].get("http.response.status_code") for s in rows)
assert codes == Counter({200: n}), codes
assert len({pid_of(s) for s in rows}) == 1
assert all(s["kind"] == 3 for s in rows), "every span a CLIENT span"
PY
note "traced: $(count_lines "$RSPANS") spans, one per request; ${MS} ms traced, ${plain_ms} ms untraced"
pass
