"""Assertions shared by the HTTP integration tests' check_json snippets.

    import sys; sys.path.insert(0, args["support"]); from spancheck import *

Spans are the receiver's JSON lines (otlp_decode.mjs flatten()); peer
records are the lines of http_peer.py's requests.jsonl.
"""
import json
import os
import re

SERVER, CLIENT = 2, 3
UNSET, ERROR = 0, 2
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$")


def spans_of(rows, service):
    """The spans of one service, in start order."""
    out = [s for s in rows if s["resource"].get("service.name") == service]
    return sorted(out, key=lambda s: int(s["startTimeUnixNano"]))


def peer_log(pdir):
    with open(os.path.join(pdir, "requests.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def header_values(head, name):
    """Every value of header `name` in a request head."""
    return re.findall(r"(?im)^%s:[ \t]*([^\r\n]*?)[ \t]*\r?$" % re.escape(name), head)


def injected(head, where="first"):
    """(traceId, spanId, flags) of the one traceparent line. `where`:
    "first", right after the request line (the socket and TLS layers
    write it there); "curl", where libcurl puts the application's
    CURLOPT_HTTPHEADER lines, to which libcurl's layer appends ours: after
    libcurl's own request headers, in one block of propagation headers."""
    lines = head.split("\r\n")
    tps = header_values(head, "traceparent")
    assert len(tps) == 1, "one traceparent line expected, got %r in %r" % (tps, head)
    at = [i for i, l in enumerate(lines) if l.lower().startswith("traceparent:")][0]
    if where == "first":
        assert at == 1, "traceparent is not right after the request line: %r" % head
    else:
        assert at > 1 and lines[1].lower().startswith("host:"), \
            "traceparent is not among libcurl's custom headers: %r" % head
    m = TRACEPARENT.match(tps[0])
    assert m, "malformed traceparent %r" % tps[0]
    return m.groups()


def named_by(span, tp):
    """The injected traceparent `tp` names `span`."""
    trace, span_id, flags = tp
    assert (trace, span_id) == (span["traceId"], span["spanId"]), \
        "injected 00-%s-%s does not name the span %s/%s" % (
            trace, span_id, span["traceId"], span["spanId"])
    assert flags == "01", "sampled span, flags %s" % flags


def check_status(span, code):
    """Status code attribute, and error.type and span status for a client."""
    a = span["attributes"]
    assert a.get("http.response.status_code") == code, (code, a)
    if span["kind"] == CLIENT:
        bad = code >= 400
    else:
        bad = code >= 500
    if bad:
        assert a.get("error.type") == str(code), ("error.type", code, a)
        assert span["status"]["code"] == ERROR, ("status ERROR expected", span["status"])
    else:
        assert "error.type" not in a, ("no error.type for", code, a)
        assert span["status"]["code"] == UNSET, ("status unset expected", span["status"])


def no_secret(span, *secrets):
    """No attribute value contains any of `secrets` (header values, passwords)."""
    text = json.dumps(span["attributes"])
    for s in secrets:
        assert s not in text, "attribute values contain %r: %s" % (s, text)


def one_trace(spans):
    ids = {s["traceId"] for s in spans}
    assert len(ids) == 1, "one trace expected, got %s" % sorted(ids)
    return ids.pop()
