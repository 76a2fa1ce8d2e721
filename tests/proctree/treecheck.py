"""Helpers for tests/proctree checks: the spans of an OTELPRELOAD_FILE
(OTLP/JSON lines) flattened, and the process tree they describe.

check_json binds `rows` to the file's lines (one export request each);
spans(rows) turns them into one dict per span:
    pid, exe          the resource's process.pid and process.executable.name
    name, kind        kind as OTLP numbers it (1 INTERNAL, 2 SERVER, 3 CLIENT)
    trace, id, parent hex ids ("" for no parent)
    attrs             the span's attributes, values as Python values
    status            the status code (0 unset, 2 error)
"""

INTERNAL, SERVER, CLIENT = 1, 2, 3


def value(v):
    for k in ("stringValue", "boolValue", "doubleValue"):
        if k in v:
            return v[k]
    if "intValue" in v:
        return int(v["intValue"])
    return None


def attrs(lst):
    return {a["key"]: value(a["value"]) for a in lst or []}


def spans(rows):
    out = []
    for row in rows:
        for rs in row.get("resourceSpans", []):
            res = attrs(rs.get("resource", {}).get("attributes"))
            for ss in rs.get("scopeSpans", []):
                for s in ss.get("spans", []):
                    out.append({
                        "pid": res.get("process.pid"),
                        "exe": res.get("process.executable.name"),
                        "name": s["name"],
                        "kind": s.get("kind"),
                        "trace": s["traceId"],
                        "id": s["spanId"],
                        "parent": s.get("parentSpanId", ""),
                        "attrs": attrs(s.get("attributes")),
                        "status": s.get("status", {}).get("code", 0),
                    })
    return out


def process_spans(ss):
    """pid -> that process's process spans (a list: exec in place adds one)."""
    by = {}
    for s in ss:
        if s["kind"] == INTERNAL and "process.pid" in s["attrs"]:
            by.setdefault(s["pid"], []).append(s)
    return by


def fmt(ss):
    return "\n    ".join("pid=%s %s kind=%s %s/%s parent=%s %s" % (
        s["pid"], s["name"], s["kind"], s["trace"][:8], s["id"], s["parent"] or "-",
        {k: v for k, v in s["attrs"].items() if k.startswith(("process.", "url.", "error."))})
        for s in ss)


def check_tree(ss, trace, env_parent, errors, command_line=False):
    """The rules every traced process tree follows, as messages in `errors`:
    one trace; exactly one process span (the top's) is the env parent's
    child, every other one is the child of its parent process's span (or of
    the previous program of its own pid, after an exec in place); every
    span with no process-span parent of its own is a child of its
    process's span; process attributes as configured."""
    byid = {s["id"]: s for s in ss}
    procs = [s for s in ss if s["kind"] == INTERNAL and "process.pid" in s["attrs"]]
    for s in ss:
        if s["trace"] != trace:
            errors.append("span %s of pid %s in trace %s, not %s" % (s["name"], s["pid"], s["trace"], trace))
    tops = [p for p in procs if p["parent"] == env_parent]
    if len(tops) != 1:
        errors.append("%d process spans are children of the TRACEPARENT span (1 expected)" % len(tops))
    for p in procs:
        a = p["attrs"]
        if a.get("process.pid") != p["pid"] or a.get("process.executable.name") != p["exe"]:
            errors.append("process span %s: attributes %s, resource pid %s exe %s" % (p["name"], a, p["pid"], p["exe"]))
        if p["name"] != p["exe"]:
            errors.append("process span named %s for executable %s" % (p["name"], p["exe"]))
        if ("process.command_line" in a) != command_line:
            errors.append("process span %s: process.command_line %s" % (
                p["name"], "missing" if command_line else "recorded without opting in"))
        if p["parent"] == env_parent:
            continue
        up = byid.get(p["parent"])
        if not up or up["kind"] != INTERNAL or "process.pid" not in up["attrs"]:
            errors.append("process span %s (pid %s): parent %s is not a process span" % (p["name"], p["pid"], p["parent"]))
        elif up["pid"] not in (a.get("process.parent_pid"), p["pid"]):
            errors.append("process span %s (pid %s, parent pid %s): parent is pid %s's %s" % (
                p["name"], p["pid"], a.get("process.parent_pid"), up["pid"], up["name"]))
    for s in ss:
        if s["kind"] != CLIENT:
            continue
        up = byid.get(s["parent"])
        if not up or up["kind"] != INTERNAL or up["pid"] != s["pid"] or "process.pid" not in up["attrs"]:
            errors.append("client span %s %s of pid %s: parent %s is not its process's span" % (
                s["name"], s["attrs"].get("url.full"), s["pid"], s["parent"]))
