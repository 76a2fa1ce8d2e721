#!/bin/bash
# vfork, posix_spawn, system and popen from a traced program whose thread
# keeps making requests (tests/process/spawner.c): every child runs and
# exits as it does untraced (vfork + _exit(7) included), the parent prints
# the same and goes on tracing, and each child's spans arrive once with
# its own process.pid: get (tests/process/get.c) started by vfork + execv,
# posix_spawn, system() and popen(), and curl started by posix_spawnp.
# With OTELPRELOAD_PROCESS_SPAN=true, every process also has exactly one
# process span, the vfork child's _exit included (it must not end its
# parent's span, which shares its memory).
. "$(dirname "$0")/plib.sh" "$@"
need "$LIB" "$PBIN/spawner" "$PBIN/get"
CURL=$(command -v curl) || fail "curl is not installed"
start_httpd
start_receiver

# spawner OUT [ENV=VALUE...]: the spawner under a watchdog; RC its status.
spawner() {
	local out=$1
	shift
	timeout -s KILL 60 env "$@" "$PBIN/spawner" -p "$HPORT" -g "$PBIN/get" -c "$CURL" \
		>"$out" 2>"$out.err"
	RC=$?
}

# What the program printed, pids and counts of the background thread aside.
shape() {
	sed -e 's/pid=[0-9]*/pid=N/g' -e 's/bg=[0-9]*/bg=N/' "$1"
}

spawner "$T/plain.out"
[ "$RC" = 0 ] || { cat "$T/plain.out.err" >&2; fail "spawner failed untraced ($RC)"; }
grep -qx 'step name=vfork-exit pid=N status=7' <(shape "$T/plain.out") ||
	fail "untraced: the vfork child's _exit(7) was not seen"

for mode in spans process; do
	: >"$RSPANS"
	extra=()
	[ $mode = process ] && extra=(OTELPRELOAD_PROCESS_SPAN=true)
	spawner "$T/$mode.out" LD_PRELOAD="$LIB" OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" \
		OTEL_BSP_SCHEDULE_DELAY=100 "${extra[@]}"
	[ "$RC" = 0 ] || { cat "$T/$mode.out.err" >&2; fail "spawner failed traced ($mode, $RC)"; }
	[ -s "$T/$mode.out.err" ] && { cat "$T/$mode.out.err" >&2; fail "stderr not empty ($mode)"; }
	diff <(shape "$T/plain.out") <(shape "$T/$mode.out") >&2 ||
		fail "the spawner printed something else traced ($mode)"
	# Every process has flushed at its exit: its spans are in.
	settle "$RSPANS"
	check "$RSPANS" out="$T/$mode.out" mode=$mode <<'PY'
out = open(args["out"]).read()
steps = {s["name"]: s for s in records(out, "step")}
gets = {r["prefix"]: int(r["pid"]) for r in records(out, "get") + [
    dict(w.split("=", 1) for w in l.split()[2:]) for l in out.splitlines() if l.startswith("popen: get ")]}
me = records(out, "spawner")[0]
ppid, bg = int(me["pid"]), int(me["bg"])
for name, st in [("vfork-exec", "0"), ("vfork-exit", "7"), ("spawn", "0"), ("spawnp-curl", "0"),
                 ("system", "0"), ("popen", "0")]:
    assert steps[name]["status"] == st, (name, steps[name])
assert gets["/s/vfork"] == int(steps["vfork-exec"]["pid"]), "exec keeps the vfork child's pid"
assert gets["/s/spawn"] == int(steps["spawn"]["pid"])
got = paths_by_pid(rows)
expect_paths(got, ppid, ["/s/before/1", "/s/after/1"] + ["/s/bg/%d" % i for i in range(1, bg + 1)],
             "the spawner", errors)
for prefix in ["/s/vfork", "/s/spawn", "/s/system", "/s/popen"]:
    expect_paths(got, gets[prefix], [prefix + "/1", prefix + "/2"], "get " + prefix, errors)
curl = int(steps["spawnp-curl"]["pid"])
expect_paths(got, curl, ["/s/curl/1"], "curl", errors)
known = {ppid, curl, *gets.values()}
others = {p for p in got if p not in known}
assert not others, "HTTP spans from unknown processes %s" % others
exe = {pid_of(s): s["resource"]["process.executable.name"] for s in rows}
assert exe[ppid] == "spawner" and exe[curl] == "curl" and exe[gets["/s/vfork"]] == "get", exe
procs = [s for s in rows if not path_of(s)]
if args["mode"] == "process":
    by = Counter(pid_of(s) for s in procs)
    for pid in [ppid, curl, *gets.values()]:
        if by[pid] != 1:
            errors.append("process %d (%s): %d process spans" % (pid, exe.get(pid), by[pid]))
    mine = [s for s in procs if pid_of(s) == ppid]
    last = max(int(s["endTimeUnixNano"]) for s in rows if pid_of(s) == ppid and path_of(s))
    if mine and int(mine[0]["endTimeUnixNano"]) < last:
        errors.append("the spawner's process span ended before its last request")
    vchild = int(steps["vfork-exit"]["pid"])
    if vchild in by:
        errors.append("a process span for the vfork child that only called _exit")
else:
    assert not procs, "spans other than HTTP ones: %s" % [s["name"] for s in procs]
print("-- %s: %d spans; background thread %d requests" % (args["mode"], len(rows), bg))
PY
	note "$mode: children's statuses as untraced (vfork _exit 7), every process's spans once with its pid"
done
pass
