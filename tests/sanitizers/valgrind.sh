#!/bin/bash
# valgrind memcheck over a short traced run of a plain (not sanitized)
# build, the one scripts/test.sh has just tested:
#
#   bash tests/sanitizers/valgrind.sh BUILD_DIR
#
# spanner with the testing library (four threads, two forked children,
# exit flush through the exporter module to the OTLP receiver), curl and
# Python's urllib as traced clients of python3 -m http.server, a traced
# one-request Python HTTP server, and curl over TLS (OpenSSL's records).
# Each program must exit as it would untraced, its spans must arrive, and
# memcheck must find nothing: no invalid access, no use of uninitialised
# memory, no definitely lost block (--errors-for-leak-kinds=definite;
# "possibly lost" and "still reachable" are what long-lived library state
# and the hosts' caches look like, and are not errors).
#
# --run-libc-freeres=no: at exit memcheck asks glibc to free its own
# state; glibc then frees the bookkeeping of objects dlopen'ed by a thread
# that is still alive (the library's exporter worker, which holds the
# exporter module), and the blocks those held show as definitely lost in
# ld.so (_dl_map_object_deps). That is glibc's memory, not the library's or
# the host's; without freeres nothing is reported. No suppression file is
# needed with the hosts used here (curl 7.88, Python 3.11 with
# PYTHONMALLOC=malloc so that memcheck sees its allocations).
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/support/http_lib.sh"
. "$SRC/tests/support/tls_lib.sh"
[ -f "$BUILD/sanitize.env" ] && fail "$BUILD is a sanitizer build: valgrind needs a plain one"
command -v valgrind >/dev/null || fail "valgrind is not installed (bash scripts/deps.sh installs it)"
command -v curl >/dev/null || fail "curl is not installed"
need "$LIB" "$TESTLIB" "$SPANNER"
start_receiver
export OTEL_EXPORTER_OTLP_ENDPOINT=$ENDPOINT OTEL_BSP_SCHEDULE_DELAY=100
mkdir -p "$T/www"
echo hello >"$T/www/index.html"
start_http_server || fail "python3 -m http.server did not start"
URL=http://127.0.0.1:$HPORT/index.html

VG=(valgrind --tool=memcheck --error-exitcode=99 --leak-check=full
	--errors-for-leak-kinds=definite --show-leak-kinds=definite
	--num-callers=40 --run-libc-freeres=no)

# memcheck NAME PRELOAD CMD...: runs CMD under memcheck with PRELOAD as
# LD_PRELOAD and OTEL_SERVICE_NAME=vg-NAME, output in $T/NAME.out and .err,
# one memcheck log per process in $T/vg.NAME.PID. Fails the test on any
# memcheck error (shown) or a non-zero exit status.
memcheck() {
	local name=$1 preload=$2 rc log errors=0 procs=0
	shift 2
	env LD_PRELOAD="$preload" OTEL_SERVICE_NAME="vg-$name" PYTHONMALLOC=malloc \
		timeout 120 "${VG[@]}" --log-file="$T/vg.$name.%p" "$@" \
		>"$T/$name.out" 2>"$T/$name.err"
	rc=$?
	for log in "$T"/vg."$name".*; do
		[ -e "$log" ] || continue
		procs=$((procs + 1))
		if ! grep -q 'ERROR SUMMARY: 0 errors' "$log"; then
			cat "$log" >&2
			errors=$((errors + 1))
		fi
	done
	[ "$procs" -gt 0 ] || fail "$name: memcheck wrote no log"
	[ "$errors" = 0 ] || fail "$name: memcheck found errors in $errors of $procs processes (above)"
	[ "$rc" = 0 ] || { cat "$T/$name.err" >&2; fail "$name exited with $rc under memcheck"; }
	note "$name: $procs process(es), no memcheck error"
}

memcheck spanner "$TESTLIB" "$SPANNER" -n 50 -t 4 -f 2
memcheck curl "$LIB" curl --noproxy '*' -sS -o "$T/curl.body" "$URL"
cmp -s "$T/curl.body" "$T/www/index.html" || fail "curl under memcheck fetched something else"
memcheck urllib "$LIB" "$PYTHON" -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' "$URL"
cmp -s "$T/urllib.out" "$T/www/index.html" || fail "urllib under memcheck fetched something else"

# The server side: one request, then a normal exit (and exit flush).
memcheck server "$LIB" "$PYTHON" -c 'import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1] + ".tmp", "w").write(str(s.server_address[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.handle_request()' "$T/sport" &
spid=$!
track "$spid"
wait_file "$T/sport" 60 || fail "the Python server did not start under memcheck"
[ "$(curl --noproxy '*' -sS "http://127.0.0.1:$(cat "$T/sport")/served")" = ok ] ||
	fail "the Python server under memcheck did not answer"
# memcheck (in the background job) has checked the logs and exit status.
wait "$spid" || fail "the Python server under memcheck failed"

make_cert
start_tls_peer
memcheck https "$LIB" curl --noproxy '*' -sSk -o /dev/null "https://127.0.0.1:$SPORT/tls"

settle "$RSPANS"
check_json "$RSPANS" <<'PY'
from collections import Counter
by = Counter((s["resource"]["service.name"], s["kind"]) for s in rows)
assert by[("vg-spanner", 1)] == 4 * 50 + 2 * 50 + 50, by
for svc in ("vg-curl", "vg-urllib", "vg-https"):
    assert by[(svc, 3)] == 1, (svc, by)
assert by[("vg-server", 2)] == 1, by
srv = [s for s in rows if s["resource"]["service.name"] == "vg-server"][0]
assert srv["attributes"]["url.path"] == "/served", srv["attributes"]
PY
note "spans of every run arrived: $(count_lines "$RSPANS")"
pass
