#!/bin/bash
# OTELPRELOAD_CODE_ATTRIBUTES: the CLIENT span names the application's call
# site. tests/codeattr/client.c, compiled here with -g -O0 and with -O2 -g
# (and a stripped copy), makes one GET to python3 -m http.server from
# fetch_inventory() (send/recv) or fetch_with_curl() (curl_easy_perform).
#
# code.line.number is the line of the call into the HTTP stack: the send()
# that writes the request (plain sockets), the curl_easy_perform() call
# (libcurl); client.c marks both with a CALL-SITE comment.
#
#   function   code.function.name, code.file.path (ending in client.c) and
#              code.line.number exactly; no code.stacktrace
#   stack      the same, and code.stacktrace: the fetch function's frame
#              first, then main's, every line "f (file:line)",
#              "f (module+0xoff)" or "module+0xoff"
#   off, unset, an invalid value (one warning)   no code.* attribute
#   unsampled (always_off)   no capture at all: the unwinder is never even
#              loaded (its debug line is absent)
#   stripped   no function, file or line; stack frames as module+0xoff
#   OTELPRELOAD_CODE_UNWINDER=backtrace and libgcc (the fallbacks used
#              without libunwind) give the same attributes
#   a program that closes every descriptor (libunwind's pipe among them)
#              and reuses the numbers for pipes of its own, then makes a
#              request from a new thread: its pipes are left alone (libunwind
#              would read from, close and write to them) and the span still
#              names fetch_inventory (the C library's unwinder took over)
# Each run prints exactly what it prints untraced, at the default log level.
. "$(dirname "$0")/../support/lib.sh" "$@"
need "$LIB"
CC=${CC:-cc}
command -v "$CC" >/dev/null || fail "no C compiler ($CC)"
command -v strip >/dev/null || fail "strip (binutils) is not installed"

CLIENT_SRC=$SRC/tests/codeattr/client.c
"$CC" -g -O0 -pthread -o "$T/client-O0" "$CLIENT_SRC" -lcurl || fail "cannot build client.c -O0"
"$CC" -O2 -g -pthread -o "$T/client-O2" "$CLIENT_SRC" -lcurl || fail "cannot build client.c -O2"
strip -o "$T/client-stripped" "$T/client-O2" || fail "cannot strip the client"
LINE_plain=$(grep -n 'CALL-SITE plain' "$CLIENT_SRC" | cut -d: -f1)
LINE_curl=$(grep -n 'CALL-SITE curl' "$CLIENT_SRC" | cut -d: -f1)
[ -n "$LINE_plain" ] && [ -n "$LINE_curl" ] || fail "client.c lost its CALL-SITE comments"

mkdir -p "$T/www"
echo inventory >"$T/www/inventory.txt"
start_http_server || fail "python3 -m http.server did not start"

FUNC_plain=fetch_inventory
FUNC_curl=fetch_with_curl
N=0

# run BINARY KIND [VAR=VALUE...]: one traced request; the code.* attributes
# of its one CLIENT span into $T/attrs.json, stderr into $T/run.err.
run() {
	local bin=$1 kind=$2 out
	shift 2
	N=$((N + 1))
	out=$(env LD_PRELOAD="$LIB" OTELPRELOAD_FILE="$T/spans.$N.jsonl" "$@" \
		"$T/$bin" "$kind" "$HPORT" 2>"$T/run.err") || fail "$bin $kind $* failed: $out"
	case $kind in
	plain) [ "$out" = "HTTP/1.0 200 OK" ] || fail "$bin $kind $* printed: $out" ;;
	curl) [ "$out" = 200 ] || fail "$bin $kind $* printed: $out" ;;
	esac
	"$PYTHON" - "$T/spans.$N.jsonl" >"$T/attrs.json" <<'PY' || fail "$bin $kind $*: no client span"
import json, sys
spans = []
for line in open(sys.argv[1]):
    for rs in json.loads(line)["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            spans += ss["spans"]
client = [s for s in spans if s["kind"] == 3]
assert len(client) == 1, spans
attrs = {}
for a in client[0]["attributes"]:
    v = a["value"]
    attrs[a["key"]] = int(v["intValue"]) if "intValue" in v else next(iter(v.values()))
print(json.dumps({k: v for k, v in attrs.items() if k.startswith("code.")}))
PY
}

# check WHAT [NAME=VALUE...] <<'PY': the snippet with `a` bound to the attributes.
check() {
	local what=$1 code
	shift
	code=$(cat)
	"$PYTHON" - "$T/attrs.json" "$@" <<PY || { cat "$T/attrs.json" >&2; fail "$what"; }
import json, re, sys
a = json.load(open(sys.argv[1]))
args = dict(x.split("=", 1) for x in sys.argv[2:])
$code
PY
}

quiet() {
	[ -s "$T/run.err" ] && { cat "$T/run.err" >&2; fail "$1 wrote to stderr"; }
	return 0
}

# The format of one code.stacktrace line (module names: file names).
FRAME_RE='^([A-Za-z_.$][A-Za-z0-9_.$]* \((/[^():]+|[^ ()/:]+):[0-9]+\)|[A-Za-z_.$][A-Za-z0-9_.$]* \([A-Za-z0-9_.+-]+\+0x[0-9a-f]+\)|[A-Za-z0-9_.+-]+\+0x[0-9a-f]+)$'

for bin in client-O0 client-O2; do
	for kind in plain curl; do
		fn=FUNC_$kind line=LINE_$kind
		run "$bin" "$kind" OTELPRELOAD_CODE_ATTRIBUTES=function
		quiet "$bin $kind function"
		check "$bin $kind function: wrong code attributes" fn="${!fn}" line="${!line}" <<'PY'
assert a.get("code.function.name") == args["fn"], a
assert a.get("code.file.path", "").endswith("/client.c"), a
assert a.get("code.line.number") == int(args["line"]), a
assert "code.stacktrace" not in a, a
PY
		run "$bin" "$kind" OTELPRELOAD_CODE_ATTRIBUTES=stack
		quiet "$bin $kind stack"
		check "$bin $kind stack: wrong code attributes" fn="${!fn}" line="${!line}" re="$FRAME_RE" <<'PY'
assert a.get("code.function.name") == args["fn"], a
assert a.get("code.line.number") == int(args["line"]), a
st = a["code.stacktrace"].split("\n")
assert 2 <= len(st) <= 32, st
assert all(re.match(args["re"], l) for l in st), st
assert re.match(r"^%s \(/.*/client\.c:%s\)$" % (args["fn"], args["line"]), st[0]), st
names = [l.split(" ")[0] for l in st]
assert "main" in names and names.index("main") > 0, st
assert re.match(r"^main \(/.*/client\.c:[0-9]+\)$", st[names.index("main")]), st
PY
	done
	note "$bin: function and stack name the call sites"
done

for kind in plain curl; do
	for unw in backtrace libgcc; do
		fn=FUNC_$kind line=LINE_$kind
		run client-O0 "$kind" OTELPRELOAD_CODE_ATTRIBUTES=stack OTELPRELOAD_CODE_UNWINDER=$unw
		quiet "$unw $kind"
		check "$kind with $unw: wrong code attributes" fn="${!fn}" line="${!line}" <<'PY'
assert a.get("code.function.name") == args["fn"], a
assert a.get("code.line.number") == int(args["line"]), a
assert [l.split(" ")[0] for l in a["code.stacktrace"].split("\n")][:2] == [args["fn"], "main"], a
PY
	done
done
note "the backtrace() and libgcc unwinders give the same"

for kind in plain curl; do
	run client-O0 "$kind"
	quiet "$kind unset"
	check "$kind: code attributes without OTELPRELOAD_CODE_ATTRIBUTES" <<'PY'
assert a == {}, a
PY
	run client-O0 "$kind" OTELPRELOAD_CODE_ATTRIBUTES=off
	quiet "$kind off"
	check "$kind: code attributes with off" <<'PY'
assert a == {}, a
PY
	run client-O0 "$kind" OTELPRELOAD_CODE_ATTRIBUTES=bogus
	[ "$(cat "$T/run.err")" = "otelpreload: OTELPRELOAD_CODE_ATTRIBUTES=bogus is not off, function or stack; using off" ] ||
		{ cat "$T/run.err" >&2; fail "an invalid value: expected one warning"; }
	check "$kind: code attributes with an invalid value" <<'PY'
assert a == {}, a
PY
done
note "off, unset and an invalid value: none"

# Unsampled: the request is made, nothing is captured (no unwinder loaded).
for kind in plain curl; do
	out=$(env LD_PRELOAD="$LIB" OTELPRELOAD_FILE="$T/unsampled.jsonl" OTEL_TRACES_SAMPLER=always_off \
		OTELPRELOAD_CODE_ATTRIBUTES=stack OTEL_LOG_LEVEL=debug "$T/client-O0" "$kind" "$HPORT" 2>"$T/run.err") ||
		fail "unsampled $kind failed"
	grep -q 'code attributes' "$T/run.err" && { cat "$T/run.err" >&2; fail "an unsampled span captured a stack"; }
	run client-O0 "$kind" OTELPRELOAD_CODE_ATTRIBUTES=stack OTEL_LOG_LEVEL=debug
	grep -q 'code attributes: stacks captured with libunwind' "$T/run.err" ||
		{ cat "$T/run.err" >&2; fail "a sampled span did not load libunwind"; }
done
[ -s "$T/unsampled.jsonl" ] && fail "always_off exported spans"
note "unsampled: nothing captured"

for kind in plain curl; do
	run client-stripped "$kind" OTELPRELOAD_CODE_ATTRIBUTES=function
	quiet "stripped $kind function"
	check "stripped $kind function: attributes from nowhere" <<'PY'
assert "code.function.name" not in a and "code.file.path" not in a and "code.line.number" not in a, a
PY
	run client-stripped "$kind" OTELPRELOAD_CODE_ATTRIBUTES=stack
	quiet "stripped $kind stack"
	check "stripped $kind stack: not module+offset" re="$FRAME_RE" <<'PY'
assert "code.function.name" not in a and "code.line.number" not in a, a
st = a["code.stacktrace"].split("\n")
assert all(re.match(args["re"], l) for l in st), st
assert re.match(r"^client-stripped\+0x[0-9a-f]+$", st[0]), st
assert re.match(r"^client-stripped\+0x[0-9a-f]+$", st[1]), st
assert not any("client.c" in l for l in st), st
PY
done
note "stripped: module+offset frames only"

out=$(env LD_PRELOAD="$LIB" OTELPRELOAD_FILE="$T/closeall.jsonl" OTELPRELOAD_CODE_ATTRIBUTES=function \
	timeout 20 "$T/client-O0" closeall "$HPORT" 2>"$T/run.err") || fail "closeall failed: $out"
quiet closeall
[ "$out" = "$(printf 'HTTP/1.0 200 OK\nHTTP/1.0 200 OK\npipes intact')" ] || fail "closeall printed: $out"
"$PYTHON" - "$T/closeall.jsonl" <<'PY' || fail "closeall: the code attributes of its two requests"
import json, sys
names = []
for line in open(sys.argv[1]):
    for rs in json.loads(line)["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                if s["kind"] == 3:
                    names += [a["value"]["stringValue"] for a in s["attributes"] if a["key"] == "code.function.name"]
assert names == ["fetch_inventory", "fetch_inventory"], names
PY
note "closed and reused descriptors: the program's pipes untouched"

pass
