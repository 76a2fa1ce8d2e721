#!/bin/bash
# Daemons (tests/process/daemonize.c): a traced program makes requests, so
# the exporter thread runs and holds a collector connection, then becomes
# a daemon with glibc's daemon(0, 0) (fork, setsid, chdir /, fds 0-2 to
# /dev/null) or the classic double fork (setsid, chdir, close() every fd),
# opens a file and twelve idle connections that take the numbers of the
# fds it closed, and makes more requests. The daemon must keep tracing and
# exporting (its spans arrive with its own pid), its fds must stay its own
# (none closed under it, nothing written to them but what it wrote), and
# it must exit by itself. With OTELPRELOAD_FILE relative, every process's
# spans must go to the one file the start directory names, not to one in
# the directory the daemon moved to. Last, the same program closes every
# fd from 3 up in the running process (no fork) while the exporter holds
# its connection: the library must not write into or close the fds the
# program opens next, and must keep exporting.
. "$(dirname "$0")/plib.sh" "$@"
need "$LIB" "$PBIN/daemonize"
start_httpd
start_receiver
export OTEL_EXPORTER_OTLP_ENDPOINT=$ENDPOINT OTEL_BSP_SCHEDULE_DELAY=50

# wait_gone PID SECONDS: wait until PID has ended.
wait_gone() {
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}

# wait_done OUT: the daemon's "done" line, its pid in DPID; then its end.
wait_done() {
	local i
	for ((i = 0; i < 400; i++)); do
		grep -q '^done ' "$1" 2>/dev/null && break
		sleep 0.05
	done
	DPID=$(sed -n 's/^done .* pid=\([0-9]*\) .*/\1/p' "$1")
	[ -n "$DPID" ] || { cat "$1" >&2 2>/dev/null; fail "the daemon never finished ($1)"; }
	wait_gone "$DPID" 20 || { kill -9 "$DPID"; fail "the daemon $DPID did not exit by itself"; }
}

# launch MODE [ARGS...]: daemonize -m MODE in the background, preloaded,
# with the variables of the array LENV; once its first two spans have
# arrived (the exporter is set up and holds its connection), lets it go on.
# The first process's pid is LPID.
LENV=()
launch() {
	local mode=$1
	shift
	rm -f "$T/go" "$T/go.2"
	: >"$RSPANS"
	timeout -s KILL 60 env LD_PRELOAD="$LIB" "${LENV[@]}" "$PBIN/daemonize" -p "$HPORT" -m "$mode" \
		-o "$T/$mode.out" -g "$T/go" "$@" >"$T/$mode.stdout" 2>"$T/$mode.err" &
	LPID=$!
	track "$LPID"
	wait_spans "$RSPANS" 2 15 || fail "the first spans of daemonize -m $mode did not arrive"
	touch "$T/go"
}

# started MODE: the first process of daemonize -m MODE exited 0, silently.
started() {
	wait "$LPID"
	local rc=$?
	[ "$rc" = 0 ] || { cat "$T/$1.out" >&2 2>/dev/null; fail "daemonize -m $1 exited $rc"; }
	[ -s "$T/$1.stdout" ] || [ -s "$T/$1.err" ] && { cat "$T/$1.err" >&2; fail "daemonize -m $1 printed something"; }
	return 0
}

# no_junk BEFORE: httpd answered 400 to nothing since BEFORE (its counters then).
no_junk() {
	check /dev/null before="$1" after="$(httpd_stats)" <<'PY'
import json
bad = json.loads(args["after"])["bad"] - json.loads(args["before"])["bad"]
assert bad == 0, "the server got %d requests the program never sent (see httpd.log)" % bad
PY
}

# --- daemon(0, 0) ----------------------------------------------------------
bad0=$(httpd_stats)
launch libc
started libc
wait_spans "$RSPANS" 5 15 || fail "the daemon's spans did not arrive ($(count_lines "$RSPANS") of 5)"
touch "$T/go.2"
wait_done "$T/libc.out"
settle "$RSPANS"
check "$RSPANS" out="$T/libc.out" <<'PY'
d = records(open(args["out"]).read(), "done")[0]
assert d["ok"] == "3" and d["bad"] == "0", open(args["out"]).read()
assert d["cwd"] == "/" and d["sid"] == d["pid"], d
got = paths_by_pid(rows)
dpid = int(d["pid"])
expect_paths(got, dpid, ["/d/libc/post/%d" % j for j in (1, 2, 3)], "the daemon", errors)
others = [p for p in got if p != dpid]
assert len(others) == 1, "pre-daemon spans from %s" % others
expect_paths(got, others[0], ["/d/libc/pre/1", "/d/libc/pre/2"], "the program before daemon()", errors)
PY
no_junk "$bad0"
note "daemon(0, 0): the daemon's 3 spans arrive with its pid; its fds untouched; it exits"

# --- double fork, close every fd, relative OTELPRELOAD_FILE --------------------
mkdir "$T/start" "$T/moved"
bad0=$(httpd_stats)
cd "$T/start" || fail "cannot cd to $T/start"
LENV=(OTEL_TRACES_EXPORTER=otlp OTELPRELOAD_FILE=spans.jsonl)
launch double -d "$T/moved"
LENV=()
cd "$SRC" || fail "cannot cd back"
started double
wait_spans "$RSPANS" 5 15 || fail "the double-forked daemon's spans did not arrive ($(count_lines "$RSPANS") of 5)"
touch "$T/go.2"
wait_done "$T/double.out"
settle "$RSPANS"
check "$RSPANS" out="$T/double.out" moved="$T/moved" <<'PY'
d = records(open(args["out"]).read(), "done")[0]
assert d["ok"] == "3" and d["bad"] == "0", open(args["out"]).read()
assert d["cwd"] == args["moved"] and d["sid"] != d["pid"], d
got = paths_by_pid(rows)
expect_paths(got, int(d["pid"]), ["/d/double/post/%d" % j for j in (1, 2, 3)], "the daemon", errors)
PY
no_junk "$bad0"
note "double fork + close(every fd): the daemon's spans arrive with its pid; its fds untouched; it exits"
soft_check "a relative OTELPRELOAD_FILE is resolved again in the daemon" \
	/dev/null start="$T/start/spans.jsonl" moved="$T/moved/spans.jsonl" <<'PY'
import json, os
def paths(f):
    out = []
    if os.path.exists(f):
        for line in open(f):
            for rs in json.loads(line)["resourceSpans"]:
                for ss in rs["scopeSpans"]:
                    for s in ss["spans"]:
                        for a in s["attributes"]:
                            if a["key"] == "url.full":
                                out.append(a["value"]["stringValue"].split("/", 3)[3])
    return sorted(out)
start, moved = paths(args["start"]), paths(args["moved"])
print("-- OTELPRELOAD_FILE=spans.jsonl: %d spans in the start directory, %d where the daemon moved"
      % (len(start), len(moved)))
if moved or start != ["d/double/post/1", "d/double/post/2", "d/double/post/3", "d/double/pre/1", "d/double/pre/2"]:
    errors.append("the relative OTELPRELOAD_FILE: %s in the start directory, %s where the daemon moved"
                  % (start, moved))
PY

# --- close every fd from 3 up, no fork -----------------------------------------
bad0=$(httpd_stats)
launch closeall
wait_spans "$RSPANS" 5 5 || note "the spans made after closing every fd did not arrive within 5 s"
touch "$T/go.2"
started closeall
settle "$RSPANS"
stats=$(httpd_stats)
soft_check "after the program closed every fd, the exporter used fds it no longer owned" \
	"$RSPANS" out="$T/closeall.out" stats0="$bad0" stats="$stats" <<'PY'
import json
text = open(args["out"]).read()
d = records(text, "done")[0]
if d["bad"] != "0":
    errors.append("the program's own fds were touched: " + " / ".join(
        l for l in text.splitlines() if l.startswith("problem")))
bad = json.loads(args["stats"])["bad"] - json.loads(args["stats0"])["bad"]
if bad:
    errors.append("the server got %d requests the program never sent (see httpd.log)" % bad)
got = paths_by_pid(rows)
expect_paths(got, int(d["pid"]), ["/d/closeall/pre/1", "/d/closeall/pre/2"] +
             ["/d/closeall/post/%d" % j for j in (1, 2, 3)], "the program", errors)
print("-- close every fd: %s problems in the program, %d junk requests at the server, %d of 5 spans"
      % (d["bad"], bad, len(rows)))
PY
[ -s "$T/httpd.log" ] && sed 's/^/httpd: /' "$T/httpd.log"
finish
