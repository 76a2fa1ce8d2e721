#!/usr/bin/env bash
# README's first command: installs what is missing, builds, then traces two
# unmodified programs (curl and Python's urllib) talking to a local HTTP
# server and shows the spans the library prints.
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
# spans go to its stderr (server.err) within 100 ms of each request.
printf '<h1>hello from otelpreload quickstart</h1>\n' >"$tmp/index.html"
env -u OTEL_EXPORTER_OTLP_ENDPOINT -u OTEL_EXPORTER_OTLP_TRACES_ENDPOINT \
	OTEL_BSP_SCHEDULE_DELAY=100 OTELPRELOAD_PROCESS_SPAN=false \
	build/otelpreload run --exporter console --service-name quickstart-server -- \
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
	cat "$tmp/server.log" >&2
	exit 1
fi
url="http://127.0.0.1:$port/"

# One line per span: service, kind, name, duration (and a few HTTP
# attributes once they exist). Lines that are not spans pass through.
pretty() {
	python3 -c '
import json, sys

def attrs(obj):
    out = {}
    a = obj.get("attributes") or []
    if isinstance(a, dict):
        return a
    for kv in a:
        v = kv.get("value", {})
        if isinstance(v, dict) and v:
            v = next(iter(v.values()))
        out[kv.get("key")] = v
    return out

def service(obj):
    res = obj.get("resource")
    for src in (res if isinstance(res, dict) else {}, obj):
        s = attrs(src).get("service.name")
        if s:
            return str(s)
    return "-"

KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT",
         4: "PRODUCER", 5: "CONSUMER"}

def kind(v):
    if isinstance(v, int):
        return KINDS.get(v, str(v))
    return str(v).replace("SPAN_KIND_", "")

def duration(obj):
    try:
        ns = int(obj["endTimeUnixNano"]) - int(obj["startTimeUnixNano"])
    except (KeyError, TypeError, ValueError):
        return "-"
    if ns >= 1e9:
        return "%.2f s" % (ns / 1e9)
    if ns >= 1e6:
        return "%.2f ms" % (ns / 1e6)
    return "%.1f us" % (ns / 1e3)

rows, other = [], []
for line in sys.stdin:
    line = line.rstrip("\n")
    try:
        obj = json.loads(line)
    except ValueError:
        obj = None
    if not isinstance(obj, dict) or "spanId" not in obj:
        other.append(line)
        continue
    a = attrs(obj)
    extra = " ".join(str(a[k]) for k in ("http.request.method", "url.full",
                                           "http.response.status_code") if k in a)
    rows.append((str(obj.get("traceId", "-"))[:8], service(obj), kind(obj.get("kind")),
                 str(obj.get("name", "-")), duration(obj), extra))

if rows:
    head = ("TRACE", "SERVICE", "KIND", "NAME", "DURATION", "")
    w = [max(len(r[i]) for r in rows + [head]) for i in range(5)]
    fmt = "  %%-%ds  %%-%ds  %%-%ds  %%-%ds  %%%ds  %%s" % tuple(w)
    print((fmt % head).rstrip())
    for r in rows:
        print((fmt % r).rstrip())
else:
    print("  (no spans printed)")
for line in other:
    print("  | " + line)
'
}

# Runs a traced command as a user would type it, with no exporter configured
# (so `otelpreload run` picks the console exporter), and shows its spans.
show() {
	local out=$tmp/spans.txt status=0 shown=() a
	for a in "$@"; do
		if [[ $a =~ ^[A-Za-z0-9_./:=@%+-]+$ ]]; then shown+=("$a"); else shown+=("'$a'"); fi
	done
	printf '\n$ build/otelpreload run -- %s\n' "${shown[*]}"
	env -u OTEL_TRACES_EXPORTER -u OTEL_EXPORTER_OTLP_ENDPOINT \
		-u OTEL_EXPORTER_OTLP_TRACES_ENDPOINT \
		build/otelpreload run -- "$@" 2>"$out" || status=$?
	if command -v python3 >/dev/null; then
		pretty <"$out"
	else
		cat "$out"
	fi
	((status == 0)) || printf '  (exit status %d)\n' "$status"
}

printf '\n==> tracing two programs against python3 -m http.server on %s\n' "$url"
show curl -s -o /dev/null "$url"
show "$py" -c "import urllib.request; urllib.request.urlopen(\"$url\").read()"

# The server's spans: the same trace IDs as the clients' above.
sleep 0.5
printf '\n$ (the traced python3 -m http.server, its SERVER spans)\n'
if command -v python3 >/dev/null; then pretty <"$tmp/server.err"; else cat "$tmp/server.err"; fi

cat <<EOT

Each row is a span the library printed on stderr as one OTLP/JSON object per line;
rows with the same TRACE belong to one trace across client and server
(the console exporter, which 'otelpreload run' selects when no exporter is
configured; run a command above yourself to see the raw JSON).
Send spans to an OpenTelemetry Collector instead:
  build/otelpreload run --endpoint http://localhost:4318 -- curl -s http://example.com/
Next: bash scripts/test.sh
EOT
