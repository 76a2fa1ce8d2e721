#!/bin/bash
# Runs one semantics program (tests/semantics/sem_NAME.c) without and with
# the library and compares what the application saw.
#
#   run.sh BUILD_DIR NAME [--shim] [--modes "noprop otlp ..."] [--exact-side]
#
# Modes (plain always runs first, the others are compared with it):
#   plain    no library
#   noprop   the library with OTEL_PROPAGATORS=none and no exporter: not one
#            byte may differ anywhere, the peer's side included
#   otlp     the library with its defaults, exporting to a local OTLP
#            receiver (the full export path); requests on traced TCP client
#            connections carry one traceparent line each (SEM_INJECT=1)
#   busy     otlp with OTEL_BSP_SCHEDULE_DELAY=50: the exporter thread
#            works while the program runs, not only at its exit
#   console  the library with OTEL_TRACES_EXPORTER=console: the spans come
#            out on stderr as JSON lines, stdout stays the program's own
#   console-busy  console with OTEL_BSP_SCHEDULE_DELAY=50
# --shim preloads libsemcut.so (after the library) in every run.
# --exact-side: the side file of the noprop run must equal plain's (the
#   program's call-by-call figures are deterministic).
# The spans exported in the otlp and busy runs must be exactly the ones the
# program lists in its side file ("span KIND METHOD PATH STATUS", and
# "span? ..." for ones that may be missing); console span lines are counted.
#
# Every run must exit 0 (the program checks its own expectations: a
# "FAILED:" line makes it exit 1), print the same transcript on stdout as
# the run without the library, and print nothing on stderr (console: only
# span lines).
. "$(dirname "$0")/../support/lib.sh" "$@"
NAME=$2
shift 2
SHIM=
MODES="plain noprop otlp"
EXACT_SIDE=
while [ $# -gt 0 ]; do
	case $1 in
	--shim) SHIM=$BUILD/tests/semantics/libsemcut.so ;;
	--modes) MODES="plain $2"; shift ;;
	--exact-side) EXACT_SIDE=1 ;;
	*) fail "unknown option $1" ;;
	esac
	shift
done
TEST_NAME=semantics_$NAME
PROG=$BUILD/tests/semantics/sem_$NAME
need "$LIB" "$PROG" ${SHIM:+"$SHIM"}
SVC=sem-$NAME

case " $MODES " in *" otlp "* | *" busy "*) start_receiver ;; esac

# run MODE: the program's stdout, stderr and side file in $T/MODE.*.
run() {
	local mode=$1 pre env=() t0 t1
	pre=${SHIM:+ $SHIM}
	case $mode in
	# A sanitizer build's runtime must come first (tests/sanitizers/sanitize.sh).
	plain) [ -n "$SHIM" ] && env=(LD_PRELOAD="${OP_SANITIZER_PRELOAD:+$OP_SANITIZER_PRELOAD:}$SHIM") ;;
	noprop) env=(LD_PRELOAD="$LIB$pre" OTEL_PROPAGATORS=none OTEL_TRACES_EXPORTER=none) ;;
	otlp) env=(LD_PRELOAD="$LIB$pre" SEM_INJECT=1 OTEL_SERVICE_NAME=$SVC-$mode
		OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT") ;;
	busy) env=(LD_PRELOAD="$LIB$pre" SEM_INJECT=1 OTEL_SERVICE_NAME=$SVC-$mode
		OTEL_EXPORTER_OTLP_ENDPOINT="$ENDPOINT" OTEL_BSP_SCHEDULE_DELAY=50) ;;
	console) env=(LD_PRELOAD="$LIB$pre" SEM_INJECT=1 OTEL_SERVICE_NAME=$SVC-$mode
		OTEL_TRACES_EXPORTER=console) ;;
	console-busy) env=(LD_PRELOAD="$LIB$pre" SEM_INJECT=1 OTEL_SERVICE_NAME=$SVC-$mode
		OTEL_TRACES_EXPORTER=console OTEL_BSP_SCHEDULE_DELAY=50) ;;
	*) fail "unknown mode $mode" ;;
	esac
	rm -f "$T/$mode.side"
	t0=$(now_ms)
	(cd "$T" && env "${env[@]}" SEM_SIDE="$T/$mode.side" \
		timeout 100 "$PROG" >"$T/$mode.out" 2>"$T/$mode.err")
	RC=$?
	t1=$(now_ms)
	touch "$T/$mode.side"
	TIME_MS=$((t1 - t0))
}

show_failures() {
	grep -E '^(FAILED|setup failed)' "$1" | head -20 >&2
}

FAILS=()
for mode in $MODES; do
	run "$mode"
	checks=$(sed -n 's/^checks: \([0-9]*\), failed.*/\1/p' "$T/$mode.out")
	if [ "$mode" = plain ]; then
		if [ "$RC" != 0 ]; then
			show_failures "$T/plain.out"
			cat "$T/plain.err" >&2
			fail "the program fails without the library (exit $RC): the test or its environment is broken"
		fi
		[ -s "$T/plain.err" ] && { cat "$T/plain.err" >&2; fail "stderr without the library"; }
		note "plain: ${checks:-0} checks passed in ${TIME_MS} ms"
		continue
	fi
	bad=
	if [ "$RC" != 0 ]; then
		echo "-- $mode: the first failed checks:" >&2
		show_failures "$T/$mode.out"
		[ "$RC" -gt 128 ] && echo "killed by signal $((RC - 128))" >&2
		bad="exit status $RC"
	fi
	if ! cmp -s "$T/plain.out" "$T/$mode.out"; then
		echo "--- transcript without the library / +++ with it ($mode):" >&2
		diff -u "$T/plain.out" "$T/$mode.out" | sed -n '3,40p' >&2
		bad="${bad:+$bad; }the transcript differs"
	fi
	if [ "${mode%-busy}" = console ]; then
		"$PYTHON" - "$T/$mode.err" <<'PY' || bad="${bad:+$bad; }stderr holds more than span lines"
import json, sys
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    try:
        json.loads(line)["traceId"]
    except Exception:
        sys.exit("not a console span line: %r" % line[:200])
PY
	elif [ -s "$T/$mode.err" ]; then
		head -c 2000 "$T/$mode.err" >&2
		bad="${bad:+$bad; }stderr not empty"
	fi
	if [ "$mode" = noprop ] && [ -n "$EXACT_SIDE" ] && ! cmp -s "$T/plain.side" "$T/noprop.side"; then
		echo "--- side figures without the library / +++ with it (noprop):" >&2
		diff -u "$T/plain.side" "$T/noprop.side" | sed -n '3,40p' >&2
		bad="${bad:+$bad; }the call-by-call figures differ"
	fi
	if [ -n "$bad" ]; then
		FAILS+=("$mode: $bad")
		note "$mode: FAILED: $bad"
		continue
	fi
	note "$mode: same transcript (${checks:-0} checks) in ${TIME_MS} ms"
done

# The side file's own figures, for the log.
for m in $MODES; do sed -n 's/^figure \([^:]*\):.*/\1/p' "$T/$m.side"; done | sort -u | while IFS= read -r f; do
	vals=
	for m in $MODES; do
		vals+="$m=$(grep -F "figure $f: " "$T/$m.side" | tail -1 | sed 's/^figure [^:]*: //' | grep . || echo -) "
	done
	note "$f: $vals"
done

# What the otlp and busy runs exported, what the console runs printed.
for mode in $MODES; do
	case $mode in
	otlp | busy)
		settle "$RSPANS"
		"$PYTHON" - "$RSPANS" "$SVC-$mode" "$T/$mode.side" "$mode" <<'PY' ||
import json, sys
from collections import Counter
from urllib.parse import urlsplit
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
args = {"svc": sys.argv[2], "side": sys.argv[3], "mode": sys.argv[4]}
want, maybe = Counter(), Counter()
for line in open(args["side"]):
    f = line.split()
    if f and f[0] in ("span", "span?"):
        (want if f[0] == "span" else maybe)[tuple(f[1:5])] += 1
got = Counter()
for s in rows:
    if s["resource"]["service.name"] != args["svc"]:
        continue
    a = s["attributes"]
    kind = {2: "server", 3: "client"}.get(s["kind"], str(s["kind"]))
    path = urlsplit(a.get("url.full", "")).path if kind == "client" else a.get("url.path", "")
    got[(kind, s["name"], path, str(a.get("http.response.status_code", "-")))] += 1
missing = want - got
extra = got - want - maybe
if missing or extra:
    sys.exit("%s: spans missing: %s; unexpected: %s" % (args["mode"],
             sorted(missing.items())[:10], sorted(extra.items())[:10]))
print("-- %s: %d spans, as the program listed (%d required, %d optional)" % (
    args["mode"], sum(got.values()), sum(want.values()), sum(maybe.values())))
PY
			FAILS+=("$mode: the exported spans are not the program's requests")
		;;
	console | console-busy)
		n=$(count_lines "$T/$mode.err")
		lo=$(grep -c '^span ' "$T/$mode.side")
		hi=$(grep -c '^span' "$T/$mode.side")
		if [ "$n" -ge "$lo" ] && [ "$n" -le "$hi" ]; then
			note "$mode: $n span lines on stderr ($lo to $hi expected)"
		else
			FAILS+=("$mode: $n span lines on stderr, expected $lo to $hi")
		fi
		;;
	esac
done
[ ${#FAILS[@]} = 0 ] || fail "$(printf '%s; ' "${FAILS[@]}")"
pass
