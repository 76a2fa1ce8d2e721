"""Compares the transcripts rawpeer.py leaves (DIR/NAME.sent, DIR/NAME.read
and their .sha256 files) case by case.

    python3 transcript.py exact CASES CLIENT_DIR SERVER_DIR
    python3 transcript.py inject CASES CLIENT_DIR SERVER_DIR
    python3 transcript.py same CASES DIR_A DIR_B

CASES is the output of `rawpeer.py list`. `exact`: the server read exactly
what the client sent, and the client read exactly what the server sent.
`inject`: the same, except that the server may have read one line
"traceparent: 00-<32 hex>-<16 hex>-0[01]" CRLF more at each of the case's
`may` offsets of the client's bytes, and must have at each `must` offset;
nothing else may differ. It prints one JSON line per inserted line (case,
offset, traceId, spanId). `same`: every NAME.read and NAME.sent of DIR_A
equals DIR_B's (a traced run against an untraced one). The first
difference is shown on stderr and the exit status is 1.
"""
import json
import re
import sys

TP = re.compile(rb"traceparent: 00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])\r\n")


def digest(d, name, what):
    with open("%s/%s.%s.sha256" % (d, name, what)) as f:
        return f.read().split()


def full(d, name, what):
    with open("%s/%s.%s" % (d, name, what), "rb") as f:
        return f.read()


def die(msg):
    sys.stderr.write("transcript: %s\n" % msg)
    sys.exit(1)


def same_bytes(case, a_dir, a_what, b_dir, b_what, why):
    a, b = digest(a_dir, case, a_what), digest(b_dir, case, b_what)
    if a != b:
        die("%s: %s (%s bytes) differ from %s (%s bytes)" % (case, why, a[1], "the other", b[1]))


def with_insertions(case, app, recv, may, must):
    """Walks RECV against APP; returns the insertions as (offset, match)."""
    points = sorted(set(may) | set(must))
    out, i, j = [], 0, 0
    for at in points + [len(app)]:
        want, got = app[i:at], recv[j:j + at - i]
        if got != want:
            k = next((k for k in range(len(got)) if got[k] != want[k]), len(got))
            die("%s: the peer received other bytes at offset %d of the client's stream\n"
                "  client: %r\n  peer:   %r" % (case, i + k, app[i + k:i + k + 80], recv[j + k:j + k + 80]))
        j += at - i
        i = at
        if at == len(app):
            break
        m = TP.match(recv, j)
        if m:
            out.append((at, m))
            j = m.end()
        elif at in must:
            die("%s: no traceparent line inserted at offset %d (after %r)"
                % (case, at, app[max(0, at - 40):at]))
    if j != len(recv):
        die("%s: the peer received %d bytes more than the client sent: %r"
            % (case, len(recv) - j, recv[j:j + 80]))
    return out


def main():
    mode, cases_path, a, b = sys.argv[1:5]
    with open(cases_path) as f:
        cases = [json.loads(line) for line in f if line.strip()]
    for c in cases:
        n = c["name"]
        if mode == "same":
            for what in ("read", "sent"):
                same_bytes(n, a, what, b, what, "the traced side's %s bytes" % what)
            continue
        same_bytes(n, b, "sent", a, "read", "what the client read and the server sent")
        if mode == "exact":
            same_bytes(n, a, "sent", b, "read", "what the server read and the client sent")
            continue
        app, recv = full(a, n, "sent"), full(b, n, "read")
        if len(app) != int(digest(a, n, "sent")[1]):
            die("%s: too large to compare byte by byte" % n)
        for at, m in with_insertions(n, app, recv, c["may"], c["must"]):
            print(json.dumps({"case": n, "offset": at, "traceId": m.group(1).decode(),
                              "spanId": m.group(2).decode()}))


if __name__ == "__main__":
    main()
