#!/usr/bin/env bash
# Renders the README's waterfall screenshot (docs/waterfall.png): a traced
# shell script run in a tmux pane of fixed size (a real terminal, so the
# waterfall has its colours), the pane captured with its escape sequences
# (tmux capture-pane -e) and drawn by gnuplot's pngcairo terminal in a
# monospace font. Needs tmux, gnuplot and curl (bash scripts/deps.sh), and a
# build (build/otelpreload). The server listens on 127.0.0.1 and stops with
# this script.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-docs/waterfall.png}
cols=104 rows=13
for v in tmux gnuplot curl python3; do
	command -v "$v" >/dev/null || { echo "screenshot: $v is needed (bash scripts/deps.sh)" >&2; exit 1; }
done
[[ -x build/otelpreload ]] || { echo "screenshot: build first (cmake --build build)" >&2; exit 1; }

tmp=$(mktemp -d)
sock=$tmp/tmux
server_pid=
cleanup() {
	tmux -S "$sock" kill-server 2>/dev/null || true
	[[ -z $server_pid ]] || kill "$server_pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

py=python3
[[ -x /usr/bin/python3 ]] && py=/usr/bin/python3
printf 'hello\n' >"$tmp/index.html"
"$py" -m http.server 0 --bind 127.0.0.1 --directory "$tmp" >"$tmp/server.log" 2>&1 &
server_pid=$!
port=
for _ in $(seq 100); do
	port=$(sed -n 's/^Serving HTTP on .* port \([0-9]*\).*/\1/p' "$tmp/server.log")
	[[ -n $port ]] && break
	sleep 0.05
done
[[ -n $port ]] || { echo "screenshot: http.server did not start" >&2; exit 1; }
url=http://127.0.0.1:$port

# What the pane runs: the command line as typed, then the run itself.
cat >"$tmp/demo.sh" <<EOF
cd "$PWD"
printf '%s\n' "\$ otelpreload run -- sh -c 'curl -s \\\$U/ >/dev/null; python3 -c \"urlopen(\\\$U/)\"; curl -sf \\\$U/missing'"
env -u OTEL_TRACES_EXPORTER -u OTEL_EXPORTER_OTLP_ENDPOINT -u NO_COLOR COLUMNS=$cols \\
	build/otelpreload run -- sh -c "curl -s $url/ >/dev/null; $py -c 'import urllib.request as u; u.urlopen(\"$url/\").read()'; curl -sf $url/missing" || true
printf 'done\n' >"$tmp/done"
EOF
tmux -S "$sock" -f /dev/null new-session -d -x "$cols" -y "$rows" "bash $tmp/demo.sh; sleep 60"
for _ in $(seq 200); do
	[[ -f $tmp/done ]] && break
	sleep 0.05
done
[[ -f $tmp/done ]] || { echo "screenshot: the demo did not finish" >&2; exit 1; }
tmux -S "$sock" capture-pane -e -p >"$tmp/pane.ansi"

# ANSI SGR runs -> gnuplot labels, one per run of one colour.
python3 - "$tmp/pane.ansi" "$tmp/plot.gp" "$out" "$cols" "$rows" <<'EOF'
import re, sys

src, gp, out, cols, rows = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
BASE = {30: "#2e3436", 31: "#ef2929", 32: "#8ae234", 33: "#fce94f", 34: "#729fcf", 35: "#ad7fa8",
        36: "#34e2e2", 37: "#d3d7cf", 90: "#888a85", 91: "#ff6b6b", 92: "#9ef01a", 93: "#ffe66d",
        94: "#8fb8ff", 95: "#d9a6ff", 96: "#7ff9f9", 97: "#ffffff"}
FG, BG = "#d3d7cf", "#1e1e1e"
labels = []
lines = open(src, encoding="utf-8", errors="replace").read().split("\n")[:rows]
for y, line in enumerate(lines):
    color, bold, x, run, run_x = FG, False, 0, "", 0
    def flush():
        # One label per word, at its own column, and a rectangle per run of
        # block characters: a font's advance is never exactly the grid's,
        # so long labels would drift out of their columns.
        for m in re.finditer(r"\u2588+|[^\s\u2588]+", run):
            labels.append((run_x + m.start(), y, m.group(0), color, bold))
    for tok in re.split(r"(\x1b\[[0-9;]*m)", line):
        m = re.fullmatch(r"\x1b\[([0-9;]*)m", tok)
        if not m:
            if not run:
                run_x = x
            run += tok
            x += len(tok)
            continue
        flush()
        run = ""
        for c in [int(p) if p else 0 for p in m.group(1).split(";")]:
            if c == 0:
                color, bold = FG, False
            elif c == 1:
                bold = True
            elif c == 2:
                color = "#888a85"
            elif c in (22,):
                bold = False
            elif c == 39:
                color = FG
            elif c in BASE:
                color = BASE[c]
    flush()

cw, ch = 8.4, 17
w, h = int(cols * cw + 24), int(rows * ch + 20)
def esc(s):
    return s.replace("\\", "\\\\").replace('"', '\\"')
with open(gp, "w", encoding="utf-8") as f:
    f.write('set terminal pngcairo size %d,%d font "DejaVu Sans Mono,10.5" background rgb "%s"\n' % (w, h, BG))
    f.write('set output "%s"\nunset border; unset tics; unset key\nset margins 0,0,0,0\n' % esc(out))
    f.write("set xrange [0:%d]\nset yrange [%d:0]\n" % (w, h))
    n_obj = 0
    for i, (x, y, text, color, bold) in enumerate(labels):
        if text[0] == "\u2588":
            n_obj += 1
            f.write('set object %d rect from %.1f,%.1f to %.1f,%.1f fc rgb "%s" fs solid 1.0 noborder\n'
                    % (n_obj, 12 + x * cw, 12 + y * ch + 1, 12 + (x + len(text)) * cw, 12 + (y + 1) * ch - 1,
                       color))
            continue
        font = ' font "DejaVu Sans Mono:Bold,10.5"' if bold else ""
        f.write('set label %d "%s" at %.1f,%.1f left textcolor rgb "%s"%s noenhanced\n'
                % (i + 1, esc(text), 12 + x * cw, 12 + (y + 0.6) * ch, color, font))
    f.write("plot -1 notitle\n")
EOF
mkdir -p "$(dirname "$out")"
gnuplot "$tmp/plot.gp"
echo "screenshot: $out"
