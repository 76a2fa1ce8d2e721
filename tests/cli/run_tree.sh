#!/bin/bash
# A process tree traced by `otelpreload run` with no exporter configured:
# sh runs curl and python3 (urllib), each fetching from python3 -m
# http.server. One trace: the root span of the run, the sh process span
# under it, curl's and python3's process spans under sh (in that order),
# each one's CLIENT span under its process; the waterfall on stderr shows
# the same tree, indented by depth; the exit status is sh's.
#
# Needs the library to make an inherited TRACEPARENT the parent of a
# process span and to pass its context on to the programs it execs.
. "$(dirname "$0")/../support/lib.sh" "$@"
need "$CLI" "$LIB"
command -v curl >/dev/null || fail "curl is not installed"
export LC_ALL=C.UTF-8 COLUMNS=120
start_http_server || fail "python3 -m http.server did not start"
echo hello >"$T/www/a.txt"
echo world >"$T/www/b.txt"
URL1=http://127.0.0.1:$HPORT/a.txt
URL2=http://127.0.0.1:$HPORT/b.txt

URL1=$URL1 URL2=$URL2 PY=$PYTHON "$CLI" run --color=never --waterfall-json "$T/tree.json" -- \
	sh -c 'curl -s "$URL1" >/dev/null; "$PY" -c "import os, urllib.request as u; u.urlopen(os.environ[\"URL2\"]).read()"; exit 5' \
	>"$T/out" 2>"$T/err"
rc=$?
cat "$T/err"
[ $rc = 5 ] || fail "exit status $rc, expected sh's 5"
[ -s "$T/out" ] && fail "the waterfall went to stdout"

"$PYTHON" - "$T/tree.json" "$URL1" "$URL2" <<'PY' || fail "not one trace with the process tree"
import json, sys

j = json.load(open(sys.argv[1]))
url1, url2 = sys.argv[2:]


def show(s, d=0):
    return "".join(["  " * d + "%s [%s] %s\n" % (s["name"], s["kind"], s["service"])] +
                   [show(c, d + 1) for c in s["children"]])


tree = "".join(show(s) for t in j["traces"] for s in t["spans"])
assert j["summary"]["traces"] == 1, "%d traces:\n%s" % (j["summary"]["traces"], tree)
roots = j["traces"][0]["spans"]
assert len(roots) == 1, "roots:\n" + tree
root = roots[0]
assert root["name"] == "sh" and root["service"] == "unknown_service:otelpreload", tree
assert root["status"] == "ERROR" and root["attributes"]["process.exit.code"] == 5, root
assert not root["orphan"], root

procs = [c for c in root["children"] if c["kind"] == "INTERNAL"]
assert len(procs) == 1 and procs[0]["pid"] == root["attributes"]["process.pid"], \
    "the sh process span under the root:\n" + tree
sh = procs[0]
kids = [c for c in sh["children"] if c["kind"] == "INTERNAL"]
names = [c["service"] for c in kids]
assert len(kids) == 2 and names[0] == "unknown_service:curl" and \
    names[1].startswith("unknown_service:python3"), "curl and python3 under sh:\n" + tree
for proc, url in zip(kids, (url1, url2)):
    clients = [c for c in proc["children"] if c["kind"] == "CLIENT"]
    assert len(clients) == 1, "one CLIENT span under %s:\n%s" % (proc["name"], tree)
    a = clients[0]["attributes"]
    assert a["url.full"] == url and a["http.response.status_code"] == 200, a
    assert clients[0]["pid"] == proc["pid"], clients[0]
    assert proc["start_ns"] <= clients[0]["start_ns"] and not clients[0]["orphan"]
assert int(kids[0]["end_ns"]) <= int(kids[1]["start_ns"]), "curl ran before python3"
print("-- one trace:\n" + tree, end="")
PY

# The same tree on stderr: root, sh, curl, GET, python3, GET, indented by depth.
"$PYTHON" - "$T/err" <<'PY' || fail "the waterfall on stderr is not the tree"
import sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
rows = [l for l in lines[2:-1]]
assert lines[1].startswith("trace ") and len([l for l in lines if l.startswith("trace ")]) == 1, lines
got = [(len(r) - len(r.lstrip(" ")), r.split()[0], r.split()[1]) for r in rows]
assert [(d, n) for d, n, _ in got][:4] == [(0, "sh"), (2, got[1][1]), (4, "curl"), (6, "GET")], got
assert got[4][0] == 4 and got[4][2].startswith("python3") and got[5][:2] == (6, "GET"), got
assert lines[-1].startswith("6 spans, 1 trace, 3 processes, "), lines[-1]
PY
note "the waterfall shows the same tree"
pass
