#!/bin/bash
# Programs the loader does not preload into: a static build of
# tests/process/get.c, the system's static ldconfig, a setuid-root and a
# setgid copy of get run by an unprivileged user (secure execution: the
# loader ignores LD_PRELOAD entries with a '/'), and util-linux su. With
# LD_PRELOAD set they must behave exactly as without: same status, same
# output and stderr, no traceparent on the wire, no span exported, and the
# library not mapped. Run by root, a setuid-root program is not in
# secure execution (real and effective uid are both 0): the library loads
# and traces as usual, which is checked too. Last, the library installed
# where secure execution does load it (a set-user-ID file in a system
# library directory, named in LD_PRELOAD without a '/'; set up with an
# overlay mount in a private mount namespace, seen by nothing else): the
# invoking user's OTEL_* variables must not make the privileged program
# write to files that user cannot write (OTELPRELOAD_FILE). Parts that need
# root, setpriv, suid-capable mounts or overlayfs are skipped, naming why.
. "$(dirname "$0")/plib.sh" "$@"
need "$LIB" "$PBIN/get" "$PBIN/get-static"
start_httpd
start_receiver
export OTEL_EXPORTER_OTLP_ENDPOINT=$ENDPOINT OTEL_BSP_SCHEDULE_DELAY=50

# same NAME RUNNER... -- CMD...: CMD untraced and with LD_PRELOAD=$LIB
# (RUNNER, say setpriv, goes before the env that sets it): same status,
# output (pids aside) and stderr, no span, no traceparent sent.
# Leaves the traced output in $T/same.out.
same() {
	local name=$1 runner=() want got b
	shift
	while [ "$1" != "--" ]; do runner+=("$1"); shift; done
	shift
	: >"$RSPANS"
	"${runner[@]}" timeout -s KILL 30 env -u LD_PRELOAD "$@" >"$T/same.plain" 2>"$T/same.plain.err"
	want=$?
	b=$(httpd_stats)
	"${runner[@]}" timeout -s KILL 30 env LD_PRELOAD="$LIB" "$@" >"$T/same.out" 2>"$T/same.err"
	got=$?
	[ "$got" = "$want" ] || { cat "$T/same.err" >&2; fail "$name: status $got with LD_PRELOAD, $want without"; }
	cmp -s "$T/same.err" "$T/same.plain.err" || { cat "$T/same.err" >&2; fail "$name: other stderr with LD_PRELOAD"; }
	diff <(sed 's/pid=[0-9]*/pid=N/; s/ preload=.*//' "$T/same.plain") \
		<(sed 's/pid=[0-9]*/pid=N/; s/ preload=.*//' "$T/same.out") >&2 ||
		fail "$name: other output with LD_PRELOAD"
	# Whatever a loaded library exports, it exports before the process ends.
	[ "$(count_lines "$RSPANS")" = 0 ] || fail "$name: spans were exported"
	check /dev/null before="$b" after="$(httpd_stats)" <<'PY'
import json
b, a = json.loads(args["before"]), json.loads(args["after"])
assert a["tp1"] == b["tp1"], "%d requests carried a traceparent" % (a["tp1"] - b["tp1"])
PY
	note "$name: status $got, output and silence as without LD_PRELOAD; nothing traced"
}

# --- static programs ---------------------------------------------------------
same "static get" -- "$PBIN/get-static" -v -m -x 3 -p "$HPORT" -P /static -n 3
grep -q '^get copies=0 ' "$T/same.out" || fail "static get: the library is mapped?"
if [ -x /sbin/ldconfig ] && ! readelf -l /sbin/ldconfig 2>/dev/null | grep -q INTERP; then
	same "ldconfig -p (static)" -- /sbin/ldconfig -p
	same "ldconfig --version (static)" -- /sbin/ldconfig --version
else
	note "SKIP ldconfig: not a static program here"
fi

# --- setuid and setgid ----------------------------------------------------------
if [ "$(id -u)" != 0 ]; then
	note "SKIP setuid/setgid: needs root to make a setuid-root copy and run it as another user"
	pass
fi
if ! command -v setpriv >/dev/null; then
	note "SKIP setuid/setgid: setpriv (util-linux) is not installed"
	pass
fi
if grep -q '^NoNewPrivs:[[:space:]]*1' /proc/self/status; then
	note "SKIP setuid/setgid: no_new_privs is set here, set-user-ID bits have no effect"
	pass
fi
chmod 711 "$T"
mkdir -m 755 "$T/suid"
cp "$PBIN/get" "$T/suid/get-setuid"
cp "$PBIN/get" "$T/suid/get-setgid"
chown 0:0 "$T/suid/get-setuid" "$T/suid/get-setgid"
chmod 4755 "$T/suid/get-setuid"
chmod 2755 "$T/suid/get-setgid"
if findmnt -no OPTIONS --target "$T" | tr , '\n' | grep -qx nosuid; then
	note "SKIP setuid/setgid: $T is on a nosuid mount"
	pass
fi
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

# Root runs the setuid-root copy: no secure execution, the library loads.
: >"$RSPANS"
timeout -s KILL 30 env LD_PRELOAD="$LIB" "$T/suid/get-setuid" -v -m -p "$HPORT" -P /suid-root -n 2 \
	>"$T/root.out" 2>"$T/root.err" || fail "setuid get run by root failed"
[ -s "$T/root.err" ] && { cat "$T/root.err" >&2; fail "setuid get run by root: stderr"; }
grep -q '^get copies=1 ' "$T/root.out" || fail "setuid-root get run by root: the library is not loaded"
check "$RSPANS" <<'PY'
assert sorted(path_of(s) for s in rows) == ["/suid-root/1", "/suid-root/2"], [path_of(s) for s in rows]
PY
note "setuid-root get run by root (no secure execution): loaded and traced, 2 spans"

same "setuid-root get run by nobody" "${NOBODY[@]}" -- "$T/suid/get-setuid" -v -m -x 3 -p "$HPORT" -P /suid -n 2
grep -q '^get copies=0 ' "$T/same.out" || fail "setuid get run by nobody: the library is mapped"
same "setgid-root get run by nobody" "${NOBODY[@]}" -- "$T/suid/get-setgid" -v -m -x 4 -p "$HPORT" -P /sgid -n 2
grep -q '^get copies=0 ' "$T/same.out" || fail "setgid get run by nobody: the library is mapped"
if [ -u /usr/bin/su ]; then
	same "su --version run by nobody" "${NOBODY[@]}" -- /usr/bin/su --version
fi

# --- the library where secure execution loads it ---------------------------------
libdir=$(dirname "$(readlink -f "$(gcc -print-file-name=libc.so.6 2>/dev/null || echo /usr/lib/x86_64-linux-gnu/libc.so.6)")")
mkdir -p "$T/ov/upper" "$T/ov/work"
cp "$LIB" "$BUILD/libotelpreload-exporter.so" "$T/ov/upper/"
chmod 4755 "$T/ov/upper/libotelpreload.so"
: >"$T/suid/victim"
chmod 600 "$T/suid/victim"
: >"$RSPANS"
# Inside a private mount namespace: the overlay adds the two files to the
# system library directory for this command only.
timeout -s KILL 60 unshare -m --propagation private sh -c '
	mount -t overlay overlay -o "lowerdir=$1,upperdir=$2/upper,workdir=$2/work" "$1" 2>/dev/null || exit 77
	shift 2
	exec "$@"' sh "$libdir" "$T/ov" "${NOBODY[@]}" env LD_PRELOAD=libotelpreload.so \
	OTELPRELOAD_FILE="$T/suid/victim" \
	"$T/suid/get-setuid" -m -p "$HPORT" -P /trusted -n 2 >"$T/trusted.out" 2>"$T/trusted.err"
rc=$?
if ! unshare -m --propagation private true 2>/dev/null; then
	note "SKIP the library in $libdir: no private mount namespace here (unshare -m refused)"
elif [ "$rc" = 77 ]; then
	note "SKIP the library in $libdir: cannot mount an overlay there (no overlayfs or no CAP_SYS_ADMIN)"
elif [ "$rc" != 0 ]; then
	cat "$T/trusted.out" "$T/trusted.err" >&2
	fail "setuid get with the library in $libdir exited $rc"
else
	note "setuid get run by nobody, the library set-user-ID in $libdir: $(grep copies "$T/trusted.out")"
	if [ -s "$T/suid/victim" ]; then
		note "$(wc -c <"$T/suid/victim") bytes of spans appended to a root-only file (mode 600) named by nobody's OTELPRELOAD_FILE"
		soft "in secure execution the library trusts the invoking user's OTEL_* variables"
	fi
	[ -s "$T/trusted.err" ] && { cat "$T/trusted.err" >&2; soft "the library in secure execution wrote to stderr"; }
fi
finish
