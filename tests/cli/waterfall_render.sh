#!/bin/bash
# The waterfall drawn from a synthetic spans file by `otelpreload waterfall`
# (the renderer `run` uses): traces in time order, children in start order
# whatever the file's order, two spaces of indentation per level, bars at
# the cells their times give on a fixed width, names cut with an ellipsis,
# an escape sequence in a name neutralised, orphans shown as roots with a
# "^" mark, the summary line; colours only on a terminal without NO_COLOR,
# or with --color=always; and the JSON form's nesting.
. "$(dirname "$0")/../support/lib.sh" "$@"
need "$CLI"
export LC_ALL=C.UTF-8
unset NO_COLOR
export TERM=xterm

"$PYTHON" - "$T/spans.jsonl" <<'PY'
import json, sys

T0 = 1_700_000_000_000_000_000
MS = 1_000_000
A, B = "a" * 31 + "1", "b" * 31 + "2"


def attr(k, v):
    if isinstance(v, int):
        return {"key": k, "value": {"intValue": str(v)}}
    return {"key": k, "value": {"stringValue": v}}


def span(trace, sid, name, start_ms, end_ms, parent=None, kind=1, code=0, attrs=()):
    s = {"traceId": trace, "spanId": sid, "name": name, "kind": kind,
         "startTimeUnixNano": str(T0 + start_ms * MS),
         "endTimeUnixNano": str(T0 + end_ms * MS),
         "attributes": [attr(k, v) for k, v in attrs], "status": {"code": code}}
    if parent:
        s["parentSpanId"] = parent
    return s


def line(service, pid, spans):
    res = {"attributes": [attr("service.name", service), attr("process.pid", pid)]}
    return json.dumps({"resourceSpans": [{"resource": res, "scopeSpans": [
        {"scope": {"name": "t"}, "spans": spans}]}]})


lines = [
    # Children written before their parents, the later one first.
    line("unknown_service:curl", 11, [
        span(A, "0000000000000c02", "second", 600, 750, parent="0000000000000001"),
    ]),
    line("unknown_service:curl", 11, [
        span(A, "0000000000000c01", "first", 100, 500, parent="0000000000000001"),
        span(A, "0000000000000c11", "GET " + "x" * 60, 250, 500, parent="0000000000000c01",
             kind=3, code=2, attrs=[("http.response.status_code", 503)]),
    ]),
    "hello, not a span line",
    "{not json",
    line("svc-b", 42, [span(B, "00000000000000b1", "\x1b[31mevil", 200, 300, kind=2)]),
    line("unknown_service:otelpreload", 10, [
        span(A, "0000000000000001", "run-root", 0, 1000, code=2),
        span(A, "0000000000000005", "lost-child", 800, 1000, parent="deadbeefdeadbeef"),
    ]),
]
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY
COLUMNS=100 "$CLI" waterfall --color=never --json "$T/tree.json" "$T/spans.jsonl" >"$T/out" 2>"$T/err" ||
	{ cat "$T/err" >&2; fail "otelpreload waterfall failed"; }
[ -s "$T/err" ] && { cat "$T/err" >&2; fail "stderr not empty"; }
cat "$T/out"

"$PYTHON" - "$T/out" "$T/tree.json" <<'PY' || fail "the waterfall is not as expected"
import json, sys

out = open(sys.argv[1], encoding="utf-8").read().split("\n")
assert out[-1] == "", "no final newline"
out = out[:-1]
assert "\x1b" not in "".join(out), "colour with --color=never"
# The layout at 100 columns: name 28, service 11, kind 8, status 6,
# duration 8, one space between, then |bar| with 32 cells.
NAME, SVC, BAR = 28, 11, 32
BAR_AT = NAME + 1 + SVC + 1 + 8 + 1 + 6 + 1 + 8 + 1
for l in out[:-1]:
    if l.startswith("trace "):
        continue
    assert len(l) == 100, "line not 100 columns wide: %r (%d)" % (l, len(l))
    assert l[BAR_AT] == "|" and l[-1] == "|", "bar column misplaced: %r" % l

head = out[0]
assert head.startswith("span ") and "service" in head and "duration" in head, head
assert head[BAR_AT:] == "|0" + " " * (BAR - 1 - 5) + "1.00s|", "axis: %r" % head[BAR_AT:]

rows = [l for l in out[1:-1]]
expect = [
    ("trace", "trace " + "a" * 31 + "1"),
    ("run-root", 0), ("first", 1), ("GET ", 2), ("second", 1), ("^ lost-child", 0),
    ("trace", "trace " + "b" * 31 + "2"),
    ("?[31mevil", 0),
]
assert len(rows) == len(expect), "rows: %r" % rows
for r, (name, depth) in zip(rows, expect):
    if name == "trace":
        assert r == depth, "trace line %r, expected %r" % (r, depth)
        continue
    lead = len(r) - len(r.lstrip(" "))
    assert lead == 2 * depth, "%r: indented %d, expected %d" % (r, lead, 2 * depth)
    assert r[lead:].startswith(name), "%r: expected %r" % (r, name)


def bar(r):
    cells = r[BAR_AT + 1:-1]
    assert len(cells) == BAR, (r, len(cells))
    filled = [i for i, c in enumerate(cells) if c == "\u2588"]
    return filled[0], filled[-1] + 1


# Cell of t ms on the 1000 ms axis: floor(t * 32 / 1000), end rounded up.
want = {"run-root": (0, 32), "first": (3, 16), "GET ": (8, 16), "second": (19, 24),
        "^ lost-child": (25, 32), "?[31mevil": (6, 10)}
for r in rows:
    key = next((k for k in want if r.lstrip(" ").startswith(k)), None)
    if key:
        assert bar(r) == want[key], "%s: bar %r, expected %r" % (key, bar(r), want[key])

get = next(r for r in rows if r.lstrip().startswith("GET "))
name_cell = get[:NAME]
assert name_cell == "    GET " + "x" * 19 + "\u2026", "truncated name: %r" % name_cell
assert get[NAME + 1:NAME + 1 + SVC] == "curl       ", "service: unknown_service: prefix dropped: %r" % get
assert "client" in get and "ERROR" in get and "250ms" in get, get
root = rows[1]
assert "otelpreload" in root and "ERROR" in root and "1.00s" in root, root
evil = rows[-1]
assert "svc-b" in evil and "server" in evil, evil

assert out[-1] == "6 spans, 2 traces, 3 processes, 2 errors, 1 unreadable line skipped", out[-1]

# The JSON form: the same trees, nested.
j = json.load(open(sys.argv[2]))
assert j["summary"] == {"spans": 6, "traces": 2, "processes": 3, "errors": 2,
                        "unreadable_lines": 1, "dropped_spans": 0}, j["summary"]
t = j["traces"]
assert [x["trace_id"] for x in t] == ["a" * 31 + "1", "b" * 31 + "2"]
roots = t[0]["spans"]
assert [r["name"] for r in roots] == ["run-root", "lost-child"], roots
assert roots[1]["orphan"] and roots[1]["parent_span_id"] == "deadbeefdeadbeef"
assert roots[0]["parent_span_id"] is None and not roots[0]["orphan"]
kids = roots[0]["children"]
assert [k["name"] for k in kids] == ["first", "second"], kids
g = kids[0]["children"][0]
assert g["name"] == "GET " + "x" * 60 and g["kind"] == "CLIENT" and g["status"] == "ERROR", g
assert g["attributes"] == {"http.response.status_code": 503}, g["attributes"]
assert g["service"] == "unknown_service:curl" and g["pid"] == 11, g
assert int(g["end_ns"]) - int(g["start_ns"]) == 250_000_000, g
assert t[1]["spans"][0]["name"] == "\x1b[31mevil" and t[1]["spans"][0]["kind"] == "SERVER"
PY
note "layout, order, bars, truncation, orphans, summary and JSON as expected"

# Colours: only on a terminal, not with NO_COLOR set and not empty (an
# empty NO_COLOR counts as unset), always with --color=always.
"$PYTHON" - "$CLI" "$T/spans.jsonl" <<'PY' || fail "colour handling is wrong"
import os, pty, subprocess, sys

cli, spans = sys.argv[1:]


def run(args, tty, **env):
    e = dict(os.environ, COLUMNS="100")
    e.pop("NO_COLOR", None)
    e.update(env)
    if not tty:
        return subprocess.run([cli, "waterfall"] + args + [spans], env=e,
                              stdout=subprocess.PIPE, check=True).stdout.decode()
    m, s = pty.openpty()
    p = subprocess.Popen([cli, "waterfall"] + args + [spans], env=e, stdout=s)
    os.close(s)
    data = b""
    while True:
        try:
            chunk = os.read(m, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    assert p.wait() == 0
    os.close(m)
    return data.decode()


RED = "\x1b[31m"
cases = [
    ([], True, {}, True),
    ([], False, {}, False),
    ([], True, {"NO_COLOR": "1"}, False),
    ([], True, {"NO_COLOR": ""}, True),
    ([], True, {"TERM": "dumb"}, False),
    (["--color=always"], False, {"NO_COLOR": "1"}, True),
    (["--color", "never"], True, {}, False),
    (["--color=auto"], True, {}, True),
]
for args, tty, env, coloured in cases:
    out = run(args, tty, **env)
    got = "\x1b[" in out
    assert got == coloured, "%s tty=%s env=%s: colour %s" % (args, tty, env, got)
    if coloured:
        # The error row's name is red; the escape in a span name is not passed through.
        assert RED + "GET " in out, out
        assert "\x1b[31mevil" not in out
print("-- colour: tty, NO_COLOR, TERM=dumb, --color as expected")
PY

# Bad --color values are refused; an unreadable file is an error.
"$CLI" waterfall --color=sometimes "$T/spans.jsonl" >/dev/null 2>"$T/err" && fail "--color=sometimes accepted"
grep -q '^otelpreload: --color sometimes' "$T/err" || fail "no message for --color=sometimes"
"$CLI" waterfall "$T/missing" >/dev/null 2>&1 && fail "a missing file was accepted"

# Standard input; no spans at all.
out=$("$CLI" waterfall --color=never <"$T/spans.jsonl" | tail -1)
[ "$out" = "6 spans, 2 traces, 3 processes, 2 errors, 1 unreadable line skipped" ] ||
	fail "from stdin: '$out'"
out=$(echo 'nothing here' | "$CLI" waterfall)
[ "$out" = "no spans were recorded
0 spans, 0 traces, 0 processes, 0 errors" ] || fail "empty input gave '$out'"

# Outside a UTF-8 locale: ASCII bars and ellipsis, non-ASCII shown as '?'.
out=$(LC_ALL=C COLUMNS=100 "$CLI" waterfall --color=never "$T/spans.jsonl")
case $out in *$'\xe2'*) fail "UTF-8 output in the C locale" ;; esac
echo "$out" | grep -q '^    GET xxxxxxxxxxxxxxxxx\.\.\. ' || fail "no ASCII ellipsis in the C locale: $out"
echo "$out" | grep -q '|   #############                |$' || fail "no ASCII bar in the C locale: $out"
note "C locale: ASCII only"
pass
