"""Assertions on propagation headers shared by the propagation tests'
check_json snippets (js_propagators.sh, mesh.sh).

    import sys; sys.path.insert(0, args["support"]); from propcheck import *

A header list is [[name, value], ...] in the order received (the Node
peer's raw headers, or parsed from a request head with head_headers()).
Spans are the receiver's JSON lines (otlp_decode.mjs flatten()).
"""
import json
import re

SERVER, CLIENT = 2, 3
HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")

# Every header a propagation format may inject.
FORMAT_HEADERS = {
    "tracecontext": ("traceparent", "tracestate"),
    "baggage": ("baggage",),
    "b3": ("b3",),
    "b3multi": ("x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "x-b3-flags", "x-b3-parentspanid"),
    "jaeger": ("uber-trace-id",),
}
ALL_TRACE_HEADERS = tuple(h for f in FORMAT_HEADERS.values() for h in f)


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def head_headers(head):
    """[[name, value], ...] of a request head (str), values without OWS."""
    out = []
    for line in head.split("\r\n")[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        out.append([name, value.strip(" \t")])
    return out


def values(hl, name):
    return [v for n, v in hl if n.lower() == name.lower()]


def one(hl, name, what=""):
    v = values(hl, name)
    assert len(v) == 1, "%sexactly one %s header expected, got %r in %s" % (
        what and what + ": ", name, v, show_headers(hl))
    return v[0]


def absent(hl, names, what=""):
    for name in names:
        assert not values(hl, name), "%sunexpected %s header in %s" % (
            what and what + ": ", name, show_headers(hl))


def show_headers(hl):
    return "[" + ", ".join("%s: %s" % (n, v if len(v) < 120 else v[:60] + "...(%d bytes)" % len(v))
                           for n, v in hl) + "]"


def injected_first(hl, names, what=""):
    """The headers named in `names` (the injected ones) form one block
    either before every other header (the socket and TLS layers write them
    right after the request line) or after every other header (libcurl's
    layer appends them to the application's CURLOPT_HTTPHEADER list, which
    libcurl sends after its own headers)."""
    names = {n.lower() for n in names}
    pos = [i for i, (n, _) in enumerate(hl) if n.lower() in names]
    other = [i for i, (n, _) in enumerate(hl) if n.lower() not in names]
    if pos and other:
        assert max(pos) < min(other) or min(pos) > max(other), \
            "%sinjected headers %s are neither right after the request line nor last: %s" % (
                what and what + ": ", sorted(names), show_headers(hl))


def wire(hl, fmt, trace, span, sampled, debug=False, what=""):
    """The headers of format `fmt` carry exactly (trace, span, sampled,
    debug), in the encoding the brief specifies for what we inject."""
    w = (what + ": " if what else "") + fmt
    if fmt == "tracecontext":
        want = "00-%s-%s-%s" % (trace, span, "01" if sampled else "00")
        got = one(hl, "traceparent", w)
        assert got == want, "%s: traceparent %r, want %r" % (w, got, want)
    elif fmt == "b3":
        want = "%s-%s-%s" % (trace, span, "d" if debug else "1" if sampled else "0")
        got = one(hl, "b3", w)
        assert got == want, "%s: b3 %r, want %r" % (w, got, want)
    elif fmt == "b3multi":
        assert one(hl, "x-b3-traceid", w) == trace, "%s: x-b3-traceid %r, want %r" % (
            w, values(hl, "x-b3-traceid"), trace)
        assert one(hl, "x-b3-spanid", w) == span, "%s: x-b3-spanid %r, want %r" % (
            w, values(hl, "x-b3-spanid"), span)
        if debug:
            assert one(hl, "x-b3-flags", w) == "1", "%s: x-b3-flags %r, want '1'" % (w, values(hl, "x-b3-flags"))
            absent(hl, ["x-b3-sampled"], w + " (debug implies sampled)")
        else:
            want = "1" if sampled else "0"
            got = one(hl, "x-b3-sampled", w)
            assert got == want, "%s: x-b3-sampled %r, want %r" % (w, got, want)
            absent(hl, ["x-b3-flags"], w)
    elif fmt == "jaeger":
        want = "%s:%s:0:%d" % (trace, span, 3 if debug else 1 if sampled else 0)
        got = one(hl, "uber-trace-id", w)
        assert got == want, "%s: uber-trace-id %r, want %r" % (w, got, want)
    else:
        raise ValueError(fmt)


def extracted(rec, fmt):
    """What the JS propagator of `fmt` extracted from a Node peer record."""
    key = {"tracecontext": "tracecontext", "b3": "b3", "b3multi": "b3", "jaeger": "jaeger"}[fmt]
    return rec[key]


def same_context(ext, trace, span, sampled, debug=False, what=""):
    assert ext is not None, "%s: the JS propagator extracted nothing" % what
    got = (ext["traceId"], ext["spanId"], ext["traceFlags"] & 1, ext["debug"])
    want = (trace, span, 1 if sampled else 0, debug)
    assert ext["valid"] and got == want, \
        "%s: JS extracted (trace, span, sampled, debug) %r, want %r" % (what, got, want)


def spans_of(rows, service):
    out = [s for s in rows if s["resource"].get("service.name") == service]
    return sorted(out, key=lambda s: int(s["startTimeUnixNano"]))


def case_spans(rows, case):
    """Spans (any service) of the request tagged ?case=<case>: servers by
    url.query, clients by url.full."""
    tag = "case=" + case
    out = []
    for s in rows:
        a = s["attributes"]
        q = a.get("url.query") or ""
        full = a.get("url.full") or ""
        if tag in q.split("&") or tag in full.partition("?")[2].split("&"):
            out.append(s)
    return out


def desc(spans):
    return "\n".join("  %s kind=%s trace=%s span=%s parent=%s %s" % (
        s["resource"].get("service.name"), s["kind"], s["traceId"], s["spanId"], s["parentSpanId"],
        s["attributes"].get("url.full") or s["attributes"].get("url.query")) for s in spans) or "  (none)"


def pad(trace):
    return trace.rjust(32, "0")


PROBLEMS = []


def soft(label, fn, *args, **kw):
    """Runs one group of assertions; a failure is collected, not raised, so
    that one run reports every group that fails (see done())."""
    try:
        return fn(*args, **kw)
    except AssertionError as e:
        PROBLEMS.append("%s: %s" % (label, e))
        print("FAILED %s" % label)
    except Exception as e:  # a missing record, a bad file: the same report
        PROBLEMS.append("%s: %s: %s" % (label, type(e).__name__, e))
        print("FAILED %s" % label)
    return None


def done():
    assert not PROBLEMS, "%d group(s) failed:\n%s" % (len(PROBLEMS), "\n".join(PROBLEMS))
