#!/usr/bin/env bash
# README's first command: installs what is missing, builds, then traces two
# unmodified programs (a shell script running curl and Python's urllib)
# talking to a local HTTP server and draws the spans as a waterfall.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

mkdir -p build
log=build/quickstart.log
: >"$log"

# Runs a step with its output in the log; on failure shows that step's part
# of the log and stops.
quiet() {
	local what=$1 start
	shift
	printf '==> %s\n' "$what"
	start=$(($(wc -l <"$log") + 1))
	printf '\n$ %s\n' "$*" >>"$log"
	if ! "$@" >>"$log" 2>&1; then
		printf 'quickstart: %s failed; its output:\n\n' "$what" >&2
		tail -n "+$start" "$log" >&2
		printf '\n(full log: %s)\n' "$log" >&2
		exit 1
	fi
}

printf '==> output of the steps below goes to %s\n' "$log"
quiet "installing missing packages" bash scripts/deps.sh --apt-only
quiet "configuring" cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
quiet "building" cmake --build build -j2

tmp=$(mktemp -d)
server_pid=
cleanup() {
	if [[ -n $server_pid ]]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Port 0: the kernel picks a free port and the server prints it, so there
# is no window in which another program can take a port we chose.
# Debian's interpreter, not a version manager's shim: a shim is a shell
# script whose helper processes would each show up as a traced process.
py=python3
[[ -x /usr/bin/python3 ]] && py=/usr/bin/python3

# The server is traced too, so client and server spans form one trace. Its
# spans go to a file (server.jsonl, OTLP/JSON lines) within 100 ms of each
# request.
printf '<h1>hello from otelpreload quickstart</h1>\n' >"$tmp/index.html"
env -u OTEL_EXPORTER_OTLP_ENDPOINT -u OTEL_EXPORTER_OTLP_TRACES_ENDPOINT -u OTEL_TRACES_EXPORTER \
	OTEL_BSP_SCHEDULE_DELAY=100 OTELPRELOAD_PROCESS_SPAN=false \
	build/otelpreload run --file "$tmp/server.jsonl" --no-waterfall \
	--service-name quickstart-server -- \
	"$py" -u -m http.server 0 --bind 127.0.0.1 --directory "$tmp" \
	>"$tmp/server.log" 2>"$tmp/server.err" &
server_pid=$!
port=
for _ in $(seq 100); do
	port=$(sed -n 's/^Serving HTTP on .* port \([0-9]*\).*/\1/p' "$tmp/server.log")
	[[ -n $port ]] && break
	kill -0 "$server_pid" 2>/dev/null || break
	sleep 0.05
done
if [[ -z $port ]]; then
	echo "quickstart: python3 -m http.server did not start:" >&2
	cat "$tmp/server.log" "$tmp/server.err" >&2
	exit 1
fi
url="http://127.0.0.1:$port/"

# A shell script as a user would type it, with no exporter configured: `run`
# gathers the spans of every process of the script and draws them as a
# waterfall on its stderr when the script ends. --file also keeps them, for
# the joined view below.
script="curl -s -o /dev/null $url; $py -c 'import urllib.request; urllib.request.urlopen(\"$url\").read()'"
printf '\n==> tracing a script (curl, then Python urllib) against python3 -m http.server on %s\n' "$url"
printf '\n$ build/otelpreload run -- sh -c "%s"\n\n' "${script//\"/\\\"}"
status=0
env -u OTEL_TRACES_EXPORTER -u OTEL_EXPORTER_OTLP_ENDPOINT -u OTEL_EXPORTER_OTLP_TRACES_ENDPOINT \
	build/otelpreload run --file "$tmp/client.jsonl" --waterfall -- sh -c "$script" || status=$?
if ((status != 0)); then
	printf 'quickstart: the traced script exited with status %d\n' "$status" >&2
	exit 1
fi
if ! grep -q '"kind":3' "$tmp/client.jsonl" 2>/dev/null && ! grep -q '"kind": *3' "$tmp/client.jsonl"; then
	printf 'quickstart: no CLIENT span was recorded; the spans file holds:\n' >&2
	cat "$tmp/client.jsonl" >&2
	exit 1
fi

# The server's SERVER spans carry the clients' trace IDs: drawn together,
# each sits under the client span that made its request.
sleep 0.5
printf '\n==> the same trace with the traced server'"'"'s spans (otelpreload waterfall)\n\n'
cat "$tmp/client.jsonl" "$tmp/server.jsonl" | build/otelpreload waterfall -

cat <<EOT

Each line is a span: the run's root span, one span per traced process, and the
HTTP CLIENT and SERVER spans, indented under their parents, with a bar on the
run's time axis. Without an exporter configured, 'otelpreload run' draws this
on its own; send the spans to an OpenTelemetry Collector instead with
  build/otelpreload run --endpoint http://localhost:4318 -- curl -s http://example.com/
Will a program be traced at all? build/otelpreload doctor -- PROGRAM
Next: bash scripts/test.sh
EOT
