"""Compares what a client meant to send with what its peer received.

    python3 wirecheck.py plain APP RECV
    python3 wirecheck.py inject APP RECV
    python3 wirecheck.py inject-any APP RECV

APP holds the client's own bytes: HTTP/1.x requests, each a head and a
Content-Length body. `plain`: RECV must equal APP. `inject`: RECV must be
APP with exactly one line `traceparent: 00-<32 hex>-<16 hex>-0[01]` CRLF
inserted right after the request line of each request, and nothing else
changed. `inject-any`: the same, but each request may also have gone out
without the line. Prints one JSON line per request ({"method", "target",
"traceId", "spanId", "flags"}; the ids empty where nothing was inserted),
or the first difference on stderr with exit status 1.
"""
import json
import re
import sys

TP = re.compile(rb"traceparent: 00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])\r\n")
TP_LEN = 70


def requests(app):
    """Splits APP into (request line with CRLF, rest of the request)."""
    pos, out = 0, []
    while pos < len(app):
        end = app.find(b"\r\n\r\n", pos)
        if end < 0:
            sys.exit("wirecheck: APP has an unfinished request head at byte %d" % pos)
        head = app[pos:end + 4]
        m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
        total = len(head) + (int(m.group(1)) if m else 0)
        line = head.index(b"\r\n") + 2
        out.append((app[pos:pos + line], app[pos + line:pos + total]))
        pos += total
    return out


def differ(what, want, got, at):
    i = next((k for k in range(min(len(want), len(got))) if want[k] != got[k]),
             min(len(want), len(got)))
    sys.stderr.write("wirecheck: %s differs at byte %d of the received stream\n"
                     "  expected: %r\n  received: %r\n"
                     % (what, at + i, want[i:i + 80], got[i:i + 80]))
    sys.exit(1)


def main():
    mode, app_path, recv_path = sys.argv[1:4]
    app = open(app_path, "rb").read()
    recv = open(recv_path, "rb").read()
    reqs = requests(app)
    pos = 0
    for n, (line, rest) in enumerate(reqs):
        parts = line.decode("latin-1").split(" ")
        row = {"method": parts[0], "target": parts[1], "traceId": "", "spanId": "", "flags": ""}
        if recv[pos:pos + len(line)] != line:
            differ("request %d's line" % n, line, recv[pos:pos + len(line)], pos)
        pos += len(line)
        if mode in ("inject", "inject-any"):
            m = TP.match(recv, pos)
            if not m and mode == "inject-any":
                pass
            elif not m:
                sys.stderr.write("wirecheck: request %d: no traceparent line right after the "
                                 "request line; received there: %r\n" % (n, recv[pos:pos + 80]))
                sys.exit(1)
            else:
                row.update(traceId=m.group(1).decode(), spanId=m.group(2).decode(),
                           flags=m.group(3).decode())
                pos += TP_LEN
        if recv[pos:pos + len(rest)] != rest:
            differ("request %d after its request line" % n, rest, recv[pos:pos + len(rest)], pos)
        pos += len(rest)
        print(json.dumps(row))
    if pos != len(recv):
        sys.stderr.write("wirecheck: %d bytes received after the last request: %r\n"
                         % (len(recv) - pos, recv[pos:pos + 80]))
        sys.exit(1)


if __name__ == "__main__":
    main()
