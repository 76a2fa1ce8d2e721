"""Hostile, malformed and oversized HTTP/1.x exchanges, one connection per
case, with a transcript of every byte each side sent and read.

    python3 rawpeer.py server --set SET --port-file FILE --out DIR [--lifetime S]
                              [--read-head]
    python3 rawpeer.py client --set SET --port PORT --out DIR
                              [--wait-file FILE --wait-after N] [--whole]
    python3 rawpeer.py list --set SET

Both sides walk the same list of cases (SET: hostile, limits-server,
limits-client) in order, one TCP connection per case on 127.0.0.1: the
client connects, writes the case's request bytes (piece by piece, each
piece in its own send() calls) and shuts down its sending side; the server
reads to end of stream, writes the case's response bytes and closes; the
client reads to end of stream. A "server-first" case runs the other way
round: the server writes (and shuts down its side) before reading. Either
side can run under the library; what each one sent and read is recorded
in DIR/NAME.sent and DIR/NAME.read (up to FULL_MAX bytes; past that the
file is emptied and only DIR/NAME.sent.sha256 / .read.sha256, always
written as "<hex> <length>", tell the bytes). As each case starts (the
server: once it has accepted the connection) and ends, one JSON line goes
to DIR/rss.jsonl, and one more once the side has read everything, before
the connection is closed: case, at ("start", "read" or "end"), maxrss_kb
(ru_maxrss, the process's peak RSS), vmrss_kb (VmRSS) and heap (bytes
malloc has handed out, by mallinfo2). --wait-file: after case N (from 0) the client waits up to
30 s for FILE to exist before going on, so a test can let an exporter
settle in between. --read-head: the server serves a real client (curl,
http.client): it reads one request head, writes the case's response and
closes, whatever the client does. --whole: the client writes each request
in one send() call (a real server's answer may depend on what one read of
its gets).

`list` prints one JSON line per case: name, server_first, and the offsets
in the request bytes right after a request line where a traced client may
(`may`) or must (`must`) have one header line inserted; anywhere else the
peer must receive the client's bytes unchanged.

Every socket has a 30 s timeout and the server exits by itself after
--lifetime seconds (default 100).
"""
import argparse
import ctypes
import hashlib
import json
import os
import resource
import socket
import sys
import time

FULL_MAX = 4 << 20
MAY, MUST = object(), object()
MiB = 1 << 20


class Big:
    """`total` bytes made by repeating `unit`, sent in 64 KiB pieces."""

    def __init__(self, unit, total):
        self.unit, self.total = unit, total

    def __len__(self):
        return self.total

    def chunks(self):
        u = len(self.unit)
        block = self.unit * (65536 // u + 2)
        sent = 0
        while sent < self.total:
            n = min(self.total - sent, 65536)
            yield block[sent % u:sent % u + n]
            sent += n


class Lines(Big):
    """`count` header lines "X-Filler-<n>: <value>\\r\\n", generated as sent."""

    def __init__(self, count, value=b"v" * 16, name=b"X-Filler"):
        self.count, self.value, self.name = count, value, name
        assert count <= 1000000
        self.total = count * len(self.line(0))

    def line(self, i):
        return self.name + b"-%06d: " % i + self.value + b"\r\n"

    def chunks(self):
        out = bytearray()
        for i in range(self.count):
            out += self.line(i)
            if len(out) >= 65536:
                yield bytes(out)
                out.clear()
        if out:
            yield bytes(out)


class Bytewise:
    """`data` sent one byte per send() call."""

    def __init__(self, data):
        self.data = data

    def __len__(self):
        return len(self.data)

    def chunks(self):
        for i in range(len(self.data)):
            yield self.data[i:i + 1]


def case(name, req, resp, server_first=False):
    return {"name": name, "req": req, "resp": resp, "server_first": server_first}


OK = [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]
TP = b"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"


def get(path, *rest):
    """A GET whose request line must be followed by an inserted line."""
    return [b"GET %s HTTP/1.1\r\n" % path, MUST, b"Host: h\r\n"] + list(rest) + [b"\r\n"]


def hostile():
    """Malformed and hostile bytes in both directions."""
    return [
        # --- what the client writes -------------------------------------
        case("nul_in_head", get(b"/a", b"X-N: a\x00b\r\n\x00Bad\x00: z\r\n"), OK),
        case("bare_lf", [b"GET /b HTTP/1.1\n", MAY, b"Host: h\nX: y\n\n"],
             [b"HTTP/1.1 200 OK\nContent-Length: 3\n\nabc"]),
        case("http09_request", [b"GET /c\r\n"], [b"<html>HTTP/0.9</html>\n"]),
        case("overlong_request_line",
             [b"GET /", Big(b"a", 200000), b" HTTP/1.1\r\n", MAY, b"Host: h\r\n\r\n"], OK),
        case("overlong_header", get(b"/d", b"X-Long: ", Big(b"L", 300000), b"\r\n"), OK),
        case("huge_content_length",
             get(b"/e", b"Content-Length: 99999999999999999999999\r\n") +
             [b"body GET /smuggled HTTP/1.1\r\n\r\n"], OK),
        case("content_length_u64max",
             get(b"/e2", b"Content-Length: 18446744073709551615\r\n") +
             [b"GET /smuggled HTTP/1.1\r\n\r\n"], OK),
        case("negative_content_length",
             get(b"/e3", b"Content-Length: -1\r\n") + [b"GET /smuggled HTTP/1.1\r\n\r\n"], OK),
        case("conflicting_content_lengths",
             get(b"/e4", b"Content-Length: 5\r\nContent-Length: 6\r\n") +
             [b"helloGET /smuggled HTTP/1.1\r\n\r\n"], OK),
        case("bad_chunk_size",
             get(b"/f", b"Transfer-Encoding: chunked\r\n") +
             [b"zz\r\nhello\r\n0\r\n\r\nGET /after HTTP/1.1\r\n\r\n"], OK),
        case("chunk_size_overflow",
             get(b"/f2", b"Transfer-Encoding: chunked\r\n") +
             [b"fffffffffffffffffffff\r\nxx\r\n0\r\n\r\nGET /after HTTP/1.1\r\n\r\n"], OK),
        case("chunk_without_crlf",
             get(b"/f3", b"Transfer-Encoding: chunked\r\n") +
             [b"5\r\nhelloXX0\r\n\r\nGET /after HTTP/1.1\r\n\r\n"], OK),
        case("te_and_cl",
             get(b"/te", b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n") +
             [b"5\r\nhello\r\n0\r\n\r\n"] + get(b"/te2"), OK + OK),
        case("te_not_chunked_request",
             get(b"/te3", b"Transfer-Encoding: gzip\r\n") + [b"GET /after HTTP/1.1\r\n\r\n"], OK),
        case("pipelined_garbage",
             get(b"/g1") + get(b"/g2") +
             [b"\x16\x03\x01garbage\x00\xff\r\n\r\nGET /g3 HTTP/1.1\r\n\r\n"],
             OK + OK + [b"\x00garbage\xff\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"]),
        case("body_looks_like_request",
             get(b"/h", b"Content-Length: 40\r\n") +
             [b"GET /inbody HTTP/1.1\r\nHost: x\r\n\r\n".ljust(40, b"z")] + get(b"/h2"),
             OK + OK),
        case("request_one_byte_per_send",
             [Bytewise(b"GET /s HTTP/1.1\r\n"), MUST, Bytewise(b"Host: h\r\nX: 1\r\n\r\n")], OK),
        case("high_bytes",
             [b"GET /\xff\xfe\x80%00 HTTP/1.1\r\n", MUST,
              b"Host: \xff\xc3\x28\r\nUser-Agent: \xc3\x28\xa0\xa1\xed\xa0\x80\r\n\r\n"],
             [b"HTTP/1.1 200 \xff\xfe\r\nContent-Length: 1\r\n\r\nx"]),
        case("many_headers", get(b"/m", Lines(20000)), OK),
        case("lowercase_method", [b"get /l HTTP/1.1\r\nHost: h\r\n\r\n"], OK),
        case("bare_cr", [b"GET /cr HTTP/1.1\rHost: h\r\r"], OK),
        case("bad_version", [b"GET /v HTTP/9.9\r\nHost: h\r\n\r\n"], OK),
        case("spaces_in_target", [b"GET /a b c HTTP/1.1\r\nHost: h\r\n\r\n"], OK),
        case("method_only", [b"GET\r\n\r\n"], OK),
        case("blank_lines_only", [b"\r\n\r\n\n\n\r\n"], []),
        case("nul_flood", [Big(b"\x00", 65536)], [Big(b"\x00", 65536)]),
        case("tls_client_hello", [b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256))],
             [b"\x15\x03\x03\x00\x02\x02\x28"]),
        case("connect_then_tunnel",
             [b"CONNECT h:443 HTTP/1.1\r\n", MUST, b"Host: h:443\r\n\r\n",
              b"\x16\x03\x01\x00\x05hello GET /t HTTP/1.1\r\n\r\n"],
             [b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03binary\x00\xff"]),
        case("upgrade_then_frames",
             get(b"/ws", b"Upgrade: websocket\r\nConnection: Upgrade\r\n") +
             [b"\x81\x85\x00\x00\x00\x00hello GET /x HTTP/1.1\r\n\r\n"],
             [b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
              b"\x81\x05hello\x00\xffHTTP/1.1 200 OK\r\n\r\n"]),
        case("own_traceparent_garbled",
             [b"GET /tp HTTP/1.1\r\n", MAY, b"traceparent: 00-zz-" + b"q" * 60 + b"\r\n"
              b"Host: h\r\n\r\n"], OK),
        case("empty_exchange", [], []),
        # --- what the server writes -------------------------------------
        case("resp_garbage", get(b"/r1"), [b"\x00\x01\x02garbage\r\n\r\n\xff"]),
        case("resp_http09", get(b"/r2"), [b"<html>hello</html>\n"]),
        case("resp_nul_in_head", get(b"/r3"),
             [b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\x00: \x00\r\nContent-Length: 2\r\n\r\nok"]),
        case("resp_bare_lf", get(b"/r4"), [b"HTTP/1.1 200 OK\nContent-Length: 3\n\nabc"]),
        case("resp_overlong_header", get(b"/r5"),
             [b"HTTP/1.1 200 OK\r\nX-Long: ", Big(b"R", 300000), b"\r\nContent-Length: 2\r\n\r\nok"]),
        case("resp_bad_chunk", get(b"/r6"),
             [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"]),
        case("resp_chunk_overflow", get(b"/r7"),
             [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"ffffffffffffffffffffffff\r\nabc"]),
        case("resp_huge_content_length", get(b"/r8"),
             [b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\npartial"]),
        case("resp_content_length_u64max", get(b"/r9"),
             [b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\npartial"]),
        case("resp_content_length_max_minus_one", get(b"/r9b"),
             [b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551614\r\n\r\npartial"]),
        case("resp_pipelined_garbage", get(b"/r10") + get(b"/r11"),
             OK + OK + [b"\x00\xffgarbage\r\nHTTP/1.1 500 X\r\n\r\n"]),
        case("resp_1xx_flood", get(b"/r12"),
             [b"HTTP/1.1 100 Continue\r\n\r\n" * 2000,
              b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]),
        case("resp_bad_status_codes", get(b"/r13"),
             [b"HTTP/1.1 99999 X\r\n\r\nHTTP/1.1 000 X\r\n\r\nHTTP/2 200\r\n\r\nHTTP/1.1 2OO OK\r\n"]),
        case("resp_101_then_garbage", get(b"/r14"),
             [b"HTTP/1.1 101 Switching\r\n\r\n\x81\x05hello\x00\xff"]),
        case("resp_more_than_requests", get(b"/r15"), OK * 3),
        case("resp_te_not_chunked", get(b"/r16"),
             [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n\x1f\x8b\x08\x00binary"]),
        case("resp_head_never_ends", get(b"/r17"), [b"HTTP/1.1 200 OK\r\n", Lines(5000)]),
        case("resp_one_byte_per_send", get(b"/r18"),
             [Bytewise(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"3\r\nabc\r\n0\r\n\r\n")]),
        # The server speaks first: the connection is not followed at all.
        case("resp_before_request", [b"GET /r19 HTTP/1.1\r\n", MAY, b"Host: h\r\n\r\n"], OK,
             server_first=True),
        case("resp_status_only_then_close", get(b"/r20"), [b"HTTP/1.1 204 No Content\r\n"]),
        case("resp_304_with_body", get(b"/r21"),
             [b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\n\r\n"]),
    ]


def limits_server():
    """Oversized request heads to a (traced) server; the first two warm up."""
    big = MiB
    tp = TP
    return [
        case("warm1", get(b"/warm1"), OK),
        case("warm2", get(b"/warm2"), OK),
        case("big_header", get(b"/big-header", b"X-Big: ", Big(b"B", big), b"\r\n"), OK),
        case("big_baggage", get(b"/big-baggage", b"baggage: k=", Big(b"b", big), b"\r\n"), OK),
        case("big_tracestate",
             get(b"/big-tracestate", tp, b"tracestate: a=", Big(b"t", big), b"\r\n"), OK),
        case("big_forwarded", get(b"/big-forwarded", b"x-request-id: ", Big(b"f", big), b"\r\n"), OK),
        case("many_baggage", get(b"/many-baggage", Lines(20000, b"k=" + b"v" * 40, b"baggage")), OK),
        case("many_tracestate",
             get(b"/many-tracestate", tp, Lines(20000, b"a=" + b"v" * 40, b"tracestate")), OK),
        case("many_forwarded", get(b"/many-forwarded", Lines(20000, b"id" * 20, b"x-request-id")), OK),
        case("big_request_line", [b"GET /", Big(b"p", big), b" HTTP/1.1\r\nHost: h\r\n\r\n"], OK),
        case("endless_head", [b"GET /endless-head HTTP/1.1\r\nHost: h\r\n", Lines(700000)],
             [b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n\r\n"]),
        case("endless_line",
             [b"GET /endless-line HTTP/1.1\r\nHost: h\r\nX-Endless: ", Big(b"e", 16 * big)],
             [b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n\r\n"]),
        # Requests waiting for their responses: up to the engine's pipeline
        # depth (1024) they are followed, past it the connection is not.
        case("pipelined_1000", [pipelined(b"/q1", 1000)], OK),
        case("pipelined_2000", [pipelined(b"/q2", 2000)], OK),
    ]


def pipelined(path, n):
    """N requests in a row, each with a 2 kB target and a 500-byte user agent."""
    one = (b"GET " + path + b"q" * 2000 + b" HTTP/1.1\r\nHost: h\r\nUser-Agent: " + b"u" * 500 +
           b"\r\n\r\n")
    return Big(one, len(one) * n)


def limits_client():
    """Oversized response heads to a (traced) client; the first two warm up."""
    big = MiB
    return [
        case("warm1", get(b"/warm1"), OK),
        case("warm2", get(b"/warm2"), OK),
        case("resp_big_header", get(b"/c1"),
             [b"HTTP/1.1 200 OK\r\nX-Big: ", Big(b"B", big), b"\r\nContent-Length: 2\r\n\r\nok"]),
        case("resp_big_status_line", get(b"/c2"),
             [b"HTTP/1.1 200 ", Big(b"r", big), b"\r\nContent-Length: 2\r\n\r\nok"]),
        case("resp_endless_head", get(b"/c3"), [b"HTTP/1.1 200 OK\r\n", Lines(700000)]),
        case("resp_endless_line", get(b"/c4"), [b"HTTP/1.1 200 OK\r\nX: ", Big(b"e", 16 * big)]),
        case("req_big_header", get(b"/c5", b"X-Big: ", Big(b"B", big), b"\r\n"), OK),
        case("req_many_headers", get(b"/c6", Lines(20000)), OK),
    ]


def hostile_responses():
    """The hostile set's malformed responses alone, for real HTTP clients."""
    return [c for c in hostile() if c["name"].startswith("resp_") and not c["server_first"]]


def hostile_requests():
    """The hostile set without the cases where the server speaks first, for
    real HTTP servers (which wait for a request)."""
    return [c for c in hostile() if not c["server_first"]]


SETS = {"hostile": hostile, "hostile-responses": hostile_responses,
        "hostile-requests": hostile_requests,
        "limits-server": limits_server, "limits-client": limits_client}


def offsets(parts):
    """The insertion points of MAY and MUST, as offsets in the bytes."""
    pos, may, must = 0, [], []
    for p in parts:
        if p is MAY:
            may.append(pos)
        elif p is MUST:
            must.append(pos)
        else:
            pos += len(p)
    return may, must


class Recorder:
    """Writes the bytes to PATH (while they fit in FULL_MAX) and their digest."""

    def __init__(self, path):
        self.path = path
        self.f = open(path, "wb")
        self.h = hashlib.sha256()
        self.n = 0

    def add(self, b):
        self.h.update(b)
        self.n += len(b)
        if self.f:
            if self.n > FULL_MAX:
                self.f.close()
                self.f = None
                open(self.path, "wb").close()
            else:
                self.f.write(b)

    def close(self):
        if self.f:
            self.f.close()
        with open(self.path + ".sha256", "w") as f:
            f.write("%s %d\n" % (self.h.hexdigest(), self.n))


def send_parts(sock, parts, rec):
    """Sends the parts; a peer that stops reading (a real client that has
    seen its response) ends the sending."""
    try:
        for p in parts:
            if p is MAY or p is MUST:
                continue
            for chunk in (p.chunks() if hasattr(p, "chunks") else [p]):
                view = memoryview(chunk)
                while view:
                    n = sock.send(view)
                    rec.add(view[:n].tobytes())
                    view = view[n:]
    except (BrokenPipeError, ConnectionResetError):
        pass


def shut(sock):
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def read_head(sock, rec):
    """Reads up to the end of a request head (or of the stream)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        try:
            b = sock.recv(65536)
        except ConnectionResetError:
            return
        if not b:
            return
        rec.add(b)
        buf = buf[-3:] + b


def read_all(sock, rec):
    while True:
        try:
            b = sock.recv(65536)
        except ConnectionResetError:
            return
        if not b:
            return
        rec.add(b)


class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def heap_in_use():
    """Bytes malloc has handed out and not had back, every arena and mmap'd
    block included (glibc's mallinfo2), or -1 where it cannot tell."""
    try:
        f = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return -1
    f.restype = MallInfo2
    m = f()
    return m.uordblks + m.hblkhd


def rss_line(out, name, at):
    vmrss = 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                vmrss = int(line.split()[1])
    with open(os.path.join(out, "rss.jsonl"), "a") as f:
        f.write(json.dumps({"case": name, "at": at,
                            "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                            "vmrss_kb": vmrss, "heap": heap_in_use()}) + "\n")


def whole(parts):
    """The parts as one piece, so they reach the peer in one segment when they fit."""
    out = bytearray()
    for p in parts:
        if p is not MAY and p is not MUST:
            out += b"".join(p.chunks()) if hasattr(p, "chunks") else p
    return [bytes(out)]


def exchange(sock, c, out, sending, first, head_only=False):
    """One case on SOCK: `first` tells whether this side writes first;
    `head_only`, that the peer is a real client that sends one request head
    and never shuts its side down. Once everything has been read, and
    before the connection is closed, a "read" line goes to rss.jsonl."""
    sent = Recorder(os.path.join(out, c["name"] + ".sent"))
    got = Recorder(os.path.join(out, c["name"] + ".read"))
    try:
        if head_only:
            read_head(sock, got)
            send_parts(sock, c[sending], sent)
        elif first:
            send_parts(sock, c[sending], sent)
            shut(sock)
            read_all(sock, got)
            rss_line(out, c["name"], "read")
        else:
            read_all(sock, got)
            rss_line(out, c["name"], "read")
            send_parts(sock, c[sending], sent)
            shut(sock)
    finally:
        sent.close()
        got.close()
        sock.close()


def run_server(opts, cases):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    tmp = opts.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    os.rename(tmp, opts.port_file)
    srv.settimeout(opts.lifetime)
    for c in cases:
        sock, _ = srv.accept()
        rss_line(opts.out, c["name"], "start")
        sock.settimeout(30)
        exchange(sock, c, opts.out, "resp", c["server_first"], opts.read_head)
        rss_line(opts.out, c["name"], "end")
    srv.close()


def run_client(opts, cases):
    for i, c in enumerate(cases):
        if opts.whole:
            c = dict(c, req=whole(c["req"]))
        rss_line(opts.out, c["name"], "start")
        sock = socket.create_connection(("127.0.0.1", opts.port), timeout=30)
        exchange(sock, c, opts.out, "req", not c["server_first"])
        rss_line(opts.out, c["name"], "end")
        if opts.wait_file and i == opts.wait_after:
            for _ in range(600):
                if os.path.exists(opts.wait_file):
                    break
                time.sleep(0.05)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=["server", "client", "list"])
    p.add_argument("--set", required=True, choices=sorted(SETS))
    p.add_argument("--port-file")
    p.add_argument("--port", type=int)
    p.add_argument("--out")
    p.add_argument("--lifetime", type=float, default=100)
    p.add_argument("--wait-file")
    p.add_argument("--wait-after", type=int, default=-1)
    p.add_argument("--read-head", action="store_true")
    p.add_argument("--whole", action="store_true")
    opts = p.parse_args()
    cases = SETS[opts.set]()
    if opts.role == "list":
        for c in cases:
            may, must = offsets(c["req"])
            print(json.dumps({"name": c["name"], "server_first": c["server_first"],
                              "may": may, "must": must}))
        return
    os.makedirs(opts.out, exist_ok=True)
    if opts.role == "server":
        run_server(opts, cases)
    else:
        run_client(opts, cases)


if __name__ == "__main__":
    sys.exit(main())
