#!/bin/bash
# One trace for a whole process tree (TRACEPARENT/TRACESTATE as environment
# carriers): real programs (sh, curl, python3, xargs -P2, make -j2 with
# posix_spawn) started with TRACEPARENT under the library with process
# spans, exporting to OTELPRELOAD_FILE; tests/proctree/envprobe starting
# itself by every exec and posix_spawn, after fork and vfork, with small
# and large environments, and failing to exec a missing file; a server
# (exec_server.py) starting a program while it serves a request; an
# invalid TRACEPARENT; no process span; OTEL_SDK_DISABLED; fork without
# exec. The rules checked are in treecheck.py.
. "$(dirname "$0")/../support/lib.sh" "$@"
HERE=$SRC/tests/proctree
PROBE=$BUILD/tests/proctree/envprobe
need "$LIB" "$PROBE"
for p in curl make xargs; do
	command -v $p >/dev/null || fail "$p is not installed"
done
# python3 is the interpreter itself, not a wrapper such as a pyenv shim.
PATH=$(dirname "$PYTHON"):$PATH
SH_EXE=$(basename "$(readlink -f /bin/sh)")
PY_EXE=$(basename "$(readlink -f "$PYTHON")")
start_http_server || fail "python3 -m http.server did not start"
URL=http://127.0.0.1:$HPORT
mkdir -p "$T/www"
for f in a b x; do echo hello >"$T/www/$f"; done

TRACE=4bf92f3577b34da6a3ce929d0e0e4736
PARENT=00f067aa0ba902b7
TP=00-$TRACE-$PARENT-01
TS=vendor=abc,other=x

# traced NAME [VAR=VALUE...] -- CMD...: CMD under the library with
# process spans and TRACEPARENT/TRACESTATE, spans to $T/NAME.jsonl,
# output to $T/NAME.out and .err; RC its status.
traced() {
	local name=$1
	shift
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	rm -f "$T/$name.jsonl"
	timeout -s KILL 60 env LD_PRELOAD="$LIB" OTELPRELOAD_FILE="$T/$name.jsonl" \
		OTELPRELOAD_PROCESS_SPAN=true TRACEPARENT=$TP TRACESTATE=$TS "${envs[@]}" "$@" \
		>"$T/$name.out" 2>"$T/$name.err"
	RC=$?
	touch "$T/$name.jsonl"
}

# quiet NAME: nothing on stderr.
quiet() {
	[ -s "$T/$1.err" ] && { cat "$T/$1.err" >&2; fail "$1: the library wrote on stderr"; }
	return 0
}

# tree NAME [NAME=VALUE...] <<'PY': check_json on NAME's spans with
# treecheck imported, `ss` the spans and `errors` a list that fails the
# check when not empty.
tree() {
	local name=$1
	shift
	{
		echo 'import sys; sys.dont_write_bytecode = True; sys.path.insert(0, args["here"]); from treecheck import *'
		echo 'ss = spans(rows); errors = []'
		echo 'procs = process_spans(ss)'
		cat
		echo 'assert not errors, "\n  " + "\n  ".join(errors) + "\n  spans:\n    " + fmt(ss)'
	} | check_json "$T/$name.jsonl" here="$HERE" trace=$TRACE parent=$PARENT "$@" || exit 1
}

# --- sh -c 'curl; python3 urllib; exit 3' -------------------------------------
traced sh -- sh -c 'curl -s "$0/a" >/dev/null
python3 -c "import os, sys, urllib.request as u; u.urlopen(sys.argv[1] + \"/b\").read(); os._exit(5)" "$0"
exit 3' "$URL"
[ "$RC" = 3 ] || fail "sh exited $RC, not 3"
quiet sh
tree sh sh_exe="$SH_EXE" py_exe="$PY_EXE" <<'PY'
check_tree(ss, args["trace"], args["parent"], errors)
top = [p for p in ss if p["parent"] == args["parent"]]
assert len(top) == 1 and top[0]["exe"] == args["sh_exe"], "the top process span is not sh's:\n    " + fmt(top)
sh = top[0]
kids = {p["exe"]: p for p in ss if p["kind"] == INTERNAL and p["parent"] == sh["id"]}
assert set(kids) == {"curl", args["py_exe"]}, "children of sh's span: %s" % sorted(kids)
# curl returns from main: libc calls exit() internally, where no hook sees
# the status, so its span has no process.exit.code (README, process spans).
for exe, code in (("curl", None), (args["py_exe"], 5)):
    p = kids[exe]
    if p["attrs"].get("process.exit.code") != code:
        errors.append("%s: process.exit.code %s, not %s" % (exe, p["attrs"].get("process.exit.code"), code))
    if p["attrs"].get("process.parent_pid") != sh["pid"]:
        errors.append("%s: process.parent_pid %s, sh is %s" % (exe, p["attrs"].get("process.parent_pid"), sh["pid"]))
if kids[args["py_exe"]]["status"] != 2 or kids[args["py_exe"]]["attrs"].get("error.type") != "5":
    errors.append("python3's _exit(5): status %s error.type %s" % (kids[args["py_exe"]]["status"], kids[args["py_exe"]]["attrs"].get("error.type")))
if sh["attrs"].get("process.exit.code") != 3 or sh["status"] != 2:
    errors.append("sh's exit 3: process.exit.code %s status %s" % (sh["attrs"].get("process.exit.code"), sh["status"]))
if kids["curl"]["status"] == 2:
    errors.append("curl exited 0 but its span has status ERROR")
clients = sorted(s["attrs"].get("url.full", "").rsplit("/", 1)[-1] for s in ss if s["kind"] == CLIENT)
assert clients == ["a", "b"], "client spans for %s" % clients
print("-- sh -> curl, python3: %d spans, one trace" % len(ss))
PY
note "sh -> curl, python3: one trace under TRACEPARENT, each client span under its process's span, exit codes 3 (exit), none (return from main), 5 (_exit)"

# --- xargs -P2 ----------------------------------------------------------------
traced xargs -- sh -c 'printf "%s\n" /a /x | xargs -P2 -I{} curl -s -o /dev/null "$0{}"' "$URL"
[ "$RC" = 0 ] || fail "xargs run exited $RC"
quiet xargs
tree xargs sh_exe="$SH_EXE" <<'PY'
check_tree(ss, args["trace"], args["parent"], errors)
byid = {s["id"]: s for s in ss}
x = [p for p in ss if p["exe"] == "xargs" and p["kind"] == INTERNAL]
assert len(x) == 1 and byid[x[0]["parent"]]["exe"] == args["sh_exe"], "xargs's process span:\n    " + fmt(x)
curls = [p for p in ss if p["exe"] == "curl" and p["kind"] == INTERNAL]
assert len(curls) == 2 and all(c["parent"] == x[0]["id"] for c in curls), "curl spans:\n    " + fmt(curls)
assert len(set(c["pid"] for c in curls)) == 2
assert sum(s["kind"] == CLIENT for s in ss) == 2
PY
note "xargs -P2: both curls children of xargs's span, xargs of sh's"

# --- make -j2: two recipes, started by posix_spawn -------------------------------
printf 'all: one two\none:\n\tcurl -s -o /dev/null %s/a\ntwo:\n\tcurl -s -o /dev/null %s/x\n' \
	"$URL" "$URL" >"$T/Makefile"
traced make -- make -s -j2 -f "$T/Makefile"
[ "$RC" = 0 ] || { cat "$T/make.out" "$T/make.err" >&2; fail "make exited $RC"; }
quiet make
tree make <<'PY'
check_tree(ss, args["trace"], args["parent"], errors)
byid = {s["id"]: s for s in ss}
m = [p for p in ss if p["parent"] == args["parent"]]
assert len(m) == 1 and m[0]["exe"] == "make", "top:\n    " + fmt(m)
curls = [p for p in ss if p["exe"] == "curl" and p["kind"] == INTERNAL]
assert len(curls) == 2, "curl spans:\n    " + fmt(curls)
for c in curls:
    up = byid[c["parent"]]
    # make runs a simple recipe itself, or through sh: either way under make's span.
    while up["id"] != m[0]["id"] and up["parent"] in byid:
        up = byid[up["parent"]]
    if up["id"] != m[0]["id"]:
        errors.append("curl pid %s is not under make's span" % c["pid"])
PY
note "make -j2 (posix_spawn): both recipes under make's span"

# --- process.command_line only when opted in ------------------------------------
traced cmdline OTELPRELOAD_PROCESS_COMMAND_LINE=true -- sh -c 'curl -s -o /dev/null "$0/a?k=v"' "$URL"
[ "$RC" = 0 ] || fail "command line run exited $RC"
quiet cmdline
tree cmdline url="$URL" <<'PY'
check_tree(ss, args["trace"], args["parent"], errors, command_line=True)
c = [p for p in ss if p["exe"] == "curl" and p["kind"] == INTERNAL]
assert len(c) == 1 and c[0]["attrs"]["process.command_line"] == "curl -s -o /dev/null %s/a?k=v" % args["url"], fmt(c)
PY
note "OTELPRELOAD_PROCESS_COMMAND_LINE=true: process.command_line recorded (absent above)"

# --- every exec and posix_spawn hands on the calling process's span ----------------
for how in fork-execve fork-execv fork-execvp fork-execvpe fork-execl fork-execlp fork-execle \
	fork-fexecve vfork-execve vfork-execv posix_spawn posix_spawnp "fork-execve 600" \
	"posix_spawn 600" "vfork-execve 600"; do
	read -r h big <<<"$how"
	name=probe-$h-${big:-0}
	traced "$name" -- "$PROBE" spawn $h $big
	[ "$RC" = 0 ] || { cat "$T/$name.out" "$T/$name.err" >&2; fail "envprobe spawn $how exited $RC"; }
	quiet "$name"
	# A vfork child must not map memory: past the stack bound it passes the
	# environment on unchanged (the inherited TRACEPARENT, one level up).
	expect=ours
	[ "$h$big" = vfork-execve600 ] && expect=inherited
	tree "$name" out="$T/$name.out" expect=$expect tp=$TP ts=$TS <<'PY'
lines = open(args["out"]).read().split("\n")
child = dict(w.split("=", 1) for w in [l for l in lines if l.startswith("child ")][0].split()[1:])
me = int(dict(w.split("=", 1) for w in [l for l in lines if l.startswith("spawn ")][0].split()[2:])["pid"])
mine = [p for p in procs.get(me, []) if p["exe"] == "envprobe"]
assert len(mine) == 1, "envprobe's process span:\n    " + fmt(ss)
want = "00-%s-%s-01" % (args["trace"], mine[0]["id"]) if args["expect"] == "ours" else args["tp"]
assert child["TRACEPARENT"] == want, "child got TRACEPARENT=%s, expected %s" % (child["TRACEPARENT"], want)
assert child["TRACESTATE"] == args["ts"], "child got TRACESTATE=%s" % child["TRACESTATE"]
# The child's own process span is the parent's child.
kid = [p for p in procs.get(int(child["pid"]), [])]
if args["expect"] == "ours" and (len(kid) != 1 or kid[0]["parent"] != mine[0]["id"]):
    errors.append("the child's process span:\n    " + fmt(kid))
PY
done
note "fork + every exec, vfork + execve/execv, posix_spawn(p), large environments: the child names its parent's process span"

# --- a failed exec changes nothing -------------------------------------------------
traced missing -- "$PROBE" missing
[ "$RC" = 0 ] || { cat "$T/missing.out" >&2; fail "envprobe missing: exec failures not as untraced"; }
quiet missing
grep -qx "missing ok TRACEPARENT=$TP" "$T/missing.out" || { cat "$T/missing.out" >&2; fail "envprobe missing"; }
note "exec/posix_spawn of a missing file: ENOENT, environ untouched"

# --- the shell sees what it was given; its child sees the shell's span -----------
traced echo -- sh -c 'echo "$TRACEPARENT"; sh -c "echo \"\$TRACEPARENT\""
TRACEPARENT=00-11111111111111111111111111111111-2222222222222222-01 sh -c "echo \"\$TRACEPARENT\""'
[ "$RC" = 0 ] || fail "echo run exited $RC"
quiet echo
tree echo out="$T/echo.out" tp=$TP sh_exe="$SH_EXE" <<'PY'
got = open(args["out"]).read().split()
top = [p for p in ss if p["parent"] == args["parent"]]
assert len(top) == 1 and top[0]["exe"] == args["sh_exe"], fmt(top)
want = [args["tp"], "00-%s-%s-01" % (args["trace"], top[0]["id"]),
        "00-11111111111111111111111111111111-2222222222222222-01"]
assert got == want, "printed %s, expected %s" % (got, want)
PY
note "sh's \$TRACEPARENT is the inherited one, its child's names sh's span, one the script sets is left alone"

# --- without process spans ----------------------------------------------------------
rm -f "$T/nops.jsonl"
timeout -s KILL 60 env LD_PRELOAD="$LIB" OTELPRELOAD_FILE="$T/nops.jsonl" TRACEPARENT=$TP \
	sh -c 'echo "$TRACEPARENT"; sh -c "echo \"\$TRACEPARENT\""; curl -s -o /dev/null "$0/a"' "$URL" \
	>"$T/nops.out" 2>"$T/nops.err" || fail "no process span run failed"
quiet nops
[ "$(sort -u "$T/nops.out")" = "$TP" ] || { cat "$T/nops.out" >&2; fail "without a process span the environment must pass unchanged"; }
tree nops <<'PY'
assert [s["kind"] for s in ss] == [CLIENT], fmt(ss)
assert ss[0]["trace"] == args["trace"] and ss[0]["parent"] == args["parent"], fmt(ss)
PY
note "no process span: TRACEPARENT passed on unchanged, a client span with no context is its child"

# Parent-based sampling: an unsampled TRACEPARENT, nothing exported, the
# child told so.
traced unsampled TRACEPARENT=00-$TRACE-$PARENT-00 -- "$PROBE" spawn fork-execve
[ "$RC" = 0 ] || fail "unsampled run exited $RC"
quiet unsampled
[ -s "$T/unsampled.jsonl" ] && fail "spans exported under an unsampled TRACEPARENT"
grep -Eq "^child pid=[0-9]+ TRACEPARENT=00-$TRACE-[0-9a-f]{16}-00 " "$T/unsampled.out" &&
	! grep -q "$PARENT" "$T/unsampled.out" || { cat "$T/unsampled.out" >&2; fail "unsampled: child's TRACEPARENT"; }
note "TRACEPARENT flags 00: parent-based sampler drops everything, the child gets flags 00"

# --- an invalid TRACEPARENT is ignored ------------------------------------------------
for bad in garbage 00-00000000000000000000000000000000-$PARENT-01 00-$TRACE-$PARENT-01-extra \
	00-${TRACE^^}-$PARENT-01; do
	traced bad TRACEPARENT="$bad" -- sh -c 'curl -s -o /dev/null "$0/a"; echo "$TRACEPARENT"' "$URL"
	[ "$RC" = 0 ] || fail "TRACEPARENT=$bad: exited $RC"
	quiet bad
	[ "$(cat "$T/bad.out")" = "$bad" ] || fail "TRACEPARENT=$bad: the shell saw $(cat "$T/bad.out")"
	tree bad sh_exe="$SH_EXE" <<'PY'
top = [p for p in ss if not p["parent"]]
assert len(top) == 1 and top[0]["exe"] == args["sh_exe"], "roots:\n    " + fmt(top)
assert top[0]["trace"] != args["trace"]
check_tree(ss, top[0]["trace"], "", errors)
PY
done
traced bad TRACEPARENT=garbage OTEL_LOG_LEVEL=debug -- sh -c true
grep -q "TRACEPARENT=garbage is not a valid" "$T/bad.err" || { cat "$T/bad.err" >&2; fail "no debug line for an invalid TRACEPARENT"; }
note "invalid TRACEPARENT (garbage, zero trace id, extra fields, upper case): ignored silently, a new trace; debug log says so"

# --- a server starting a program while it serves a request ----------------------------
rm -f "$T/srv.jsonl" "$T/srv.port"
env LD_PRELOAD="$LIB" OTELPRELOAD_FILE="$T/srv.jsonl" TRACEPARENT=$TP \
	timeout -s KILL 60 "$PYTHON" "$HERE/exec_server.py" "$T/srv.port" 2 0 "$PROBE" child \
	>"$T/srv.out" 2>"$T/srv.err" &
SRV=$!
track $SRV
wait_file "$T/srv.port" 15 || { cat "$T/srv.err" >&2; fail "exec_server did not start"; }
SPORT=$(cat "$T/srv.port")
INB=00-0123456789abcdef0123456789abcdef-1111111111111111-01
curl -s -H "traceparent: $INB" "http://127.0.0.1:$SPORT/with" >"$T/srv.with" || fail "request 1 failed"
curl -s "http://127.0.0.1:$SPORT/without" >"$T/srv.without" || fail "request 2 failed"
wait $SRV || fail "exec_server exited $?"
quiet srv
tree srv with="$T/srv.with" without="$T/srv.without" <<'PY'
srv = {s["attrs"].get("url.path"): s for s in ss if s["kind"] == SERVER}
assert set(srv) == {"/with", "/without"}, fmt(ss)
w, wo = srv["/with"], srv["/without"]
# A request with its own traceparent keeps it; one without is a root (a
# server's requests are not the process's children).
assert w["trace"] == "0123456789abcdef0123456789abcdef" and w["parent"] == "1111111111111111", fmt([w])
assert not wo["parent"] and wo["trace"] != args["trace"], fmt([wo])
for s, f in ((w, args["with"]), (wo, args["without"])):
    got = dict(x.split("=", 1) for x in open(f).read().split()[1:])["TRACEPARENT"]
    if got != "00-%s-%s-01" % (s["trace"], s["id"]):
        errors.append("program started while serving %s got TRACEPARENT=%s" % (s["attrs"].get("url.path"), got))
PY
note "a program started while serving a request gets the server span's context (vfork in CPython's subprocess)"

# --- fork without exec continues the parent's context ---------------------------------
traced fork -- python3 -c 'import os, sys, urllib.request as u
pid = os.fork()
if pid == 0:
    u.urlopen(sys.argv[1] + "/a").read()
    os._exit(0)
os.waitpid(pid, 0)
print(pid)' "$URL"
[ "$RC" = 0 ] || fail "fork run exited $RC"
quiet fork
tree fork out="$T/fork.out" <<'PY'
child = int(open(args["out"]).read())
p = [s for s in ss if s["kind"] == INTERNAL]
assert len(p) == 1 and p[0]["pid"] != child and p[0]["parent"] == args["parent"], "process spans:\n    " + fmt(p)
c = [s for s in ss if s["kind"] == CLIENT]
assert len(c) == 1 and c[0]["pid"] == child and c[0]["parent"] == p[0]["id"], "client spans:\n    " + fmt(c)
PY
note "fork without exec: no process span of its own, the child's client span under the parent's process span"

# --- OTEL_SDK_DISABLED: a pure pass-through ------------------------------------------
traced disabled OTEL_SDK_DISABLED=true -- "$PROBE" spawn fork-execve
[ "$RC" = 0 ] || fail "disabled run exited $RC"
quiet disabled
[ -s "$T/disabled.jsonl" ] && fail "spans exported with OTEL_SDK_DISABLED=true"
grep -q "TRACEPARENT=$TP TRACESTATE=$TS\$" "$T/disabled.out" || { cat "$T/disabled.out" >&2; fail "disabled: the environment changed"; }
note "OTEL_SDK_DISABLED=true: TRACEPARENT/TRACESTATE passed on unchanged"
pass
