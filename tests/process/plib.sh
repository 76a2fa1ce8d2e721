# Helpers for the process suite. Source it with the build directory:
#   . "$(dirname "$0")/plib.sh" "$@"
# It sources tests/support/lib.sh and sets PBIN (the suite's programs) and
# HERE (this directory).
. "$(dirname "${BASH_SOURCE[0]}")/../support/lib.sh" "$@"
HERE=$SRC/tests/process
PBIN=$BUILD/tests/process

# start_httpd: the suite's HTTP server (httpd.c, untraced); sets HPORT.
start_httpd() {
	need "$PBIN/httpd"
	spawn_server "httpd" "$T/httpd.port" "$T/httpd.log" 10 "$PBIN/httpd" "$T/httpd.port" 110
	HPORT=$SERVER_PORT
}

# httpd_stats: httpd's counters as one JSON line.
httpd_stats() {
	"$PYTHON" -c 'import sys, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:%s/__stats" % sys.argv[1], timeout=10).read().decode().strip())' "$HPORT"
}

# check FILE [NAME=VALUE...] <<'PY': check_json with proccheck's helpers
# imported and `errors`, a list that fails the check, with every message,
# when it is not empty at the end. Fails the test.
check() {
	check_py "$@" || exit 1
}

check_py() {
	local file=$1
	shift
	{
		echo 'import sys; sys.path.insert(0, args["here"]); from proccheck import *'
		echo 'errors = []'
		cat
		echo 'assert not errors, "\n  " + "\n  ".join(errors)'
	} | check_json "$file" here="$HERE" "$@"
}

# Failures that let the test go on, so that one defect does not hide the
# results of the parts after it; finish fails the test if there were any.
SOFT_FAILURES=()

# soft WHAT: record a failure of WHAT (after its messages were printed).
soft() {
	echo "FAIL (continuing): $TEST_NAME: $*" >&2
	SOFT_FAILURES+=("$*")
}

# soft_check WHAT FILE [NAME=VALUE...] <<'PY': check, recorded with soft.
soft_check() {
	local what=$1
	shift
	check_py "$@" || soft "$what"
}

# finish: pass, or fail naming every soft failure.
finish() {
	if [ ${#SOFT_FAILURES[@]} -gt 0 ]; then
		local IFS=';'
		fail "${#SOFT_FAILURES[@]} part(s) failed: ${SOFT_FAILURES[*]}"
	fi
	pass
}

# The programs tell that the exporter thread is mid-export by the system
# call it sits in (/proc/self/task/<tid>/syscall). SEE_SYSCALLS is 1 when
# this kernel shows it.
if cat /proc/self/syscall >/dev/null 2>&1; then SEE_SYSCALLS=1; else SEE_SYSCALLS=0; fi

# delays N MS: a receiver --script answering the first N exports MS late.
delays() {
	local i s=
	for ((i = 0; i < $1; i++)); do s+=${s:+,}200:delay=$2; done
	echo "$s"
}

# elapsed_ms START_MS: milliseconds since START_MS (from now_ms).
elapsed_ms() {
	echo $(($(now_ms) - $1))
}
