"""Checks a service against W3C Trace Context level 1, the way the W3C test
suite does it (this is an independent implementation, not the W3C code):
the harness sends the service a request carrying traceparent/tracestate
variations and a list of callback URLs; the service calls them back; the
harness judges the trace headers of the callbacks.

    python3 w3c_harness.py --service URL [--out FILE] [CASE_PREFIX...]

URL is the service's POST endpoint (see w3c_service.py for the protocol).
Every case gets fresh random ids. A case passes when what the spec demands
holds; where the spec allows several behaviours (forward tracestate
unchanged or mutated within its rules, drop or truncate an invalid one) all
are accepted. Prints one line per case and exits 1 if any failed. --out
writes one JSON line per case: {case, mode, trace, parent, sent, callbacks,
ok, error}, mode being what the inbound traceparent asks for: "continue",
"restart" (invalid) or "new" (none).
"""
import argparse
import json
import os
import re
import socket
import sys
import threading
import traceback
import urllib.parse

TRACEPARENT_00 = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
OWS = " \t"


# --- the callback server ------------------------------------------------------

class Callbacks:
    """A minimal HTTP/1.1 server recording each request's header fields
    exactly as received (name case, order, duplicates), by path."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen = {}
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            c, _ = self.sock.accept()
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        c.settimeout(10)
        buf = b""
        try:
            while b"\r\n\r\n" not in buf:
                chunk = c.recv(65536)
                if not chunk:
                    return
                buf += chunk
            head, _, rest = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            fields = []
            for line in lines[1:]:
                name, _, value = line.partition(":")
                fields.append([name, value.strip(OWS)])
            n = int(next((v for k, v in fields if k.lower() == "content-length"), "0"))
            while len(rest) < n:
                chunk = c.recv(65536)
                if not chunk:
                    break
                rest += chunk
            with self.lock:
                self.seen.setdefault(path, []).append(fields)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        except OSError:
            pass
        finally:
            c.close()

    def take(self, path):
        with self.lock:
            return self.seen.pop(path, [])


def post(url, fields, body):
    """POST `body` to url with the header fields given as (name, raw value):
    a value starting with whitespace keeps it, others get one space."""
    u = urllib.parse.urlsplit(url)
    lines = ["POST %s HTTP/1.1" % (u.path or "/"), "Host: %s" % u.netloc,
             "Content-Type: application/json", "Content-Length: %d" % len(body),
             "Connection: close"]
    for name, value in fields:
        lines.append(name + ":" + (value if value[:1] in ("", " ", "\t") else " " + value))
    s = socket.create_connection((u.hostname, u.port), timeout=20)
    try:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    finally:
        s.close()
    status = got.split(b"\r\n", 1)[0].decode("latin-1")
    return status, got.partition(b"\r\n\r\n")[2]


# --- reading what the callbacks carry ---------------------------------------------

def values(fields, name):
    return [v for k, v in fields if k.lower() == name]


def traceparent(fields):
    """(trace, parent, flags) of the one traceparent a callback must carry,
    written in version 00 (the only version level 1 writes)."""
    tp = values(fields, "traceparent")
    assert len(tp) == 1, "exactly one traceparent header expected, got %r" % tp
    m = TRACEPARENT_00.match(tp[0])
    assert m, "malformed outbound traceparent %r (version 00, lower-case hex)" % tp[0]
    trace, parent, flags = m.groups()
    assert trace != "0" * 32 and parent != "0" * 16, "all-zero id in %r" % tp[0]
    return trace, parent, int(flags, 16)


def members(value):
    """A tracestate value as [(key, value)], empty members skipped. OWS
    around members is not part of them; a value's leading spaces are."""
    out = []
    for m in value.split(","):
        m = m.strip(OWS)
        if not m:
            continue
        k, eq, v = m.partition("=")
        out.append((k, v) if eq else (k, None))
    return out


def tracestate(fields):
    """The members of every tracestate field of a callback, combined as
    RFC 7230 says (in order, comma-joined); None when there is none."""
    ts = values(fields, "tracestate")
    if not ts:
        return None
    return members(",".join(ts))


# --- expectations ---------------------------------------------------------------

def continued(cb, trace, parent, sampled=None):
    t, p, f = traceparent(cb)
    assert t == trace, "trace-id %s, want the inbound %s continued" % (t, trace)
    if sampled:
        # W3C: the new span's own parent-id, never the inbound one.
        assert p != parent, "parent-id %s is the inbound one: the service's span must be the parent" % p
    if sampled is not None:
        assert f & 1 == (1 if sampled else 0), "flags %02x, want sampled=%d" % (f, sampled)
    assert f & ~0x03 == 0, "flags %02x: bits level 1 does not define must be zero" % f
    return t, p, f


def restarted(cb, *forbidden):
    """A new trace: a random trace-id, none of the ids of the invalid
    header, and its tracestate not carried over."""
    t, p, f = traceparent(cb)
    bad = {x.lower() for x in forbidden}
    assert t not in bad, "trace-id %s taken from an invalid traceparent (%s)" % (t, sorted(bad))
    ts = tracestate(cb)
    assert not ts, "the tracestate of an invalid or missing traceparent was carried over: %r" % ts
    return t, p, f


def own_prefix(out, expected_keys):
    """Splits our own leading members (keys the inbound list does not have)
    off an outbound list: a vendor may add its entry at the left."""
    i = 0
    while i < len(out) and out[i][0] not in expected_keys:
        i += 1
    return out[i:]


def ts_exact(cb, want):
    out = tracestate(cb)
    assert out is not None, "no tracestate forwarded, want %r" % want
    rest = own_prefix(out, {k for k, _ in want})
    assert rest == want, "tracestate members %r, want %r (unchanged, in order)" % (out, want)


def ts_has(cb, key, value):
    out = tracestate(cb) or []
    assert (key, value) in out, "tracestate member %s=%s missing from %r" % (key, value, out)


def ts_lacks(cb, key):
    out = tracestate(cb) or []
    assert key not in [k for k, _ in out], "tracestate member %s should not be there: %r" % (key, out)


def ts_whole_entries(cb, sent):
    """For a tracestate the service may drop or cut: whatever goes out is
    whole inbound entries, unmodified, in their order, at most 32 of them
    (W3C: truncate whole entries; keep the order of unmodified pairs; a
    list has at most 32 members)."""
    out = tracestate(cb)
    if not out:
        return "dropped"
    inbound = members(",".join(sent))
    rest = own_prefix(out, {k for k, _ in inbound})
    assert len(out) <= 32, "%d tracestate members forwarded, at most 32 allowed" % len(out)
    it = iter(inbound)
    for m in rest:
        assert any(m == x for x in it), \
            "tracestate %r is not whole inbound entries in order (inbound %r)" % (out, inbound)
    return "unchanged" if rest == inbound else "truncated"


# --- the cases --------------------------------------------------------------------

def rand_hex(n):
    return os.urandom(n).hex()


class Case:
    def __init__(self, name, mode, fields, check, count=1):
        self.name, self.mode, self.fields, self.check, self.count = name, mode, fields, check, count


def cases():
    out = []

    def add(name, mode, fields_of, check, count=1):
        # Fresh ids per case; trace and parent contain letters, so that
        # upper-casing them changes them.
        trace = "a" + rand_hex(16)[1:]
        parent = "b" + rand_hex(8)[1:]
        out.append((name, mode, trace, parent, fields_of(trace, parent), check, count))

    def tp_ok(name, value_of, sampled=True, hdr="traceparent"):
        add(name, "continue", lambda t, p: [(hdr, value_of(t, p))],
            lambda cbs, t, p, f: continued(cbs[0], t, p, sampled))

    def tp_bad(name, value_of, hdr="traceparent", forbidden=lambda t, p: [t]):
        add(name, "restart", lambda t, p: [(hdr, value_of(t, p)), ("tracestate", "foo=1")],
            lambda cbs, t, p, f: restarted(cbs[0], *forbidden(t, p)))

    std = lambda t, p: "00-%s-%s-01" % (t, p)
    add("tp-missing", "new", lambda t, p: [], lambda cbs, t, p, f: restarted(cbs[0]))
    tp_ok("tp-valid-sampled", std)
    tp_ok("tp-valid-unsampled", lambda t, p: "00-%s-%s-00" % (t, p), sampled=False)
    for hdr in ("TraceParent", "TRACEPARENT", "tRaCePaReNt"):
        tp_ok("tp-name-" + hdr, std, hdr=hdr)
    for hdr in ("trace-parent", "trace.parent", "traceparent-x"):
        tp_bad("tp-name-wrong-" + hdr, std, hdr=hdr)
    for label, pre, post in (("sp-lead", " ", ""), ("tab-lead", "\t", ""), ("sp-trail", "", " "),
                             ("tab-trail", "", "\t"), ("both", "\t ", " \t")):
        tp_ok("tp-ows-" + label, lambda t, p, pre=pre, post=post: pre + std(t, p) + post)
    # version 00 is exactly 55 characters
    tp_bad("tp-v00-dot", lambda t, p: std(t, p) + ".")
    tp_bad("tp-v00-extra", lambda t, p: std(t, p) + "-what-the-future-will-be-like")
    # a future version: the first four fields are read, the rest ignored
    tp_ok("tp-vcc", lambda t, p: "cc-%s-%s-01" % (t, p))
    tp_ok("tp-vcc-extra", lambda t, p: "cc-%s-%s-01-what-the-future-will-be-like" % (t, p))
    tp_bad("tp-vcc-dot", lambda t, p: "cc-%s-%s-01.what-the-future-will-be-like" % (t, p))
    tp_bad("tp-vcc-short", lambda t, p: "cc-%s-%s-1" % (t, p))
    tp_bad("tp-vff", lambda t, p: "ff-%s-%s-01" % (t, p))
    for label, v in (("dot0", ".0"), ("0dot", "0."), ("g0", "g0"), ("upper", "CC"), ("000", "000"),
                     ("0", "0")):
        tp_bad("tp-version-" + label, lambda t, p, v=v: "%s-%s-%s-01" % (v, t, p))
    # trace-id
    tp_bad("tp-trace-zero", lambda t, p: "00-%s-%s-01" % ("0" * 32, p), forbidden=lambda t, p: ["0" * 32])
    for label, mk in (("dot-first", lambda t: "." + t[1:]), ("dot-last", lambda t: t[:-1] + "."),
                      ("g", lambda t: t[:5] + "g" + t[6:]), ("upper", lambda t: t.upper()),
                      ("33", lambda t: t + "c"), ("31", lambda t: t[:-1])):
        tp_bad("tp-trace-" + label, lambda t, p, mk=mk: "00-%s-%s-01" % (mk(t), p),
               forbidden=lambda t, p, mk=mk: [t, mk(t), mk(t)[:32], mk(t)[-32:]])
    # parent-id
    for label, mk in (("zero", lambda p: "0" * 16), ("dot-first", lambda p: "." + p[1:]),
                      ("dot-last", lambda p: p[:-1] + "."), ("upper", lambda p: p.upper()),
                      ("17", lambda p: p + "d"), ("15", lambda p: p[:-1])):
        tp_bad("tp-parent-" + label, lambda t, p, mk=mk: "00-%s-%s-01" % (t, mk(p)))
    # trace-flags
    for label, v in (("dot0", ".0"), ("0dot", "0."), ("001", "001"), ("1", "1"), ("g1", "g1")):
        tp_bad("tp-flags-" + label, lambda t, p, v=v: "00-%s-%s-%s" % (t, p, v))
    # flags this level does not define: ignored, the sampled bit kept
    tp_ok("tp-flags-09", lambda t, p: "00-%s-%s-09" % (t, p), sampled=True)
    tp_ok("tp-flags-08", lambda t, p: "00-%s-%s-08" % (t, p), sampled=False)
    # two traceparent headers
    other = "c" + rand_hex(16)[1:]
    add("tp-duplicated", "restart",
        lambda t, p: [("traceparent", "00-%s-%s-01" % (other, p)), ("traceparent", std(t, p))],
        lambda cbs, t, p, f: restarted(cbs[0], t, other))

    # --- tracestate ---
    def ts_case(name, ts_fields, check, flags="01"):
        add(name, "continue",
            lambda t, p: [("traceparent", "00-%s-%s-%s" % (t, p, flags))] + ts_fields,
            lambda cbs, t, p, f: (continued(cbs[0], t, p, flags == "01"), check(cbs[0], f))[1])

    add("ts-no-traceparent-1", "new", lambda t, p: [("tracestate", "foo=1")],
        lambda cbs, t, p, f: restarted(cbs[0]))
    add("ts-no-traceparent-2", "new", lambda t, p: [("tracestate", "foo=1,bar=2")],
        lambda cbs, t, p, f: restarted(cbs[0]))
    ts_case("ts-kept", [("tracestate", "foo=1,bar=2")],
            lambda cb, f: ts_exact(cb, [("foo", "1"), ("bar", "2")]))
    ts_case("ts-kept-unsampled", [("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")],
            lambda cb, f: ts_exact(cb, [("rojo", "00f067aa0ba902b7"), ("congo", "t61rcWkgMzE")]),
            flags="00")
    for hdr in ("trace-state", "trace.state"):
        ts_case("ts-name-wrong-" + hdr, [(hdr, "foo=1")], lambda cb, f: ts_lacks(cb, "foo"))
    for hdr in ("TraceState", "TRACESTATE", "tRaCeStAtE"):
        ts_case("ts-name-" + hdr, [(hdr, "foo=1")], lambda cb, f: ts_exact(cb, [("foo", "1")]))
    # empty fields: accepted; an empty list need not be sent
    ts_case("ts-empty", [("tracestate", "")],
            lambda cb, f: None if not tracestate(cb) else ts_exact(cb, []))
    ts_case("ts-empty-then-foo", [("tracestate", ""), ("tracestate", "foo=1")],
            lambda cb, f: ts_exact(cb, [("foo", "1")]))
    ts_case("ts-foo-then-empty", [("tracestate", "foo=1"), ("tracestate", "")],
            lambda cb, f: ts_exact(cb, [("foo", "1")]))
    # several fields: combined in order (RFC 7230)
    ts_case("ts-multiple-fields", [("tracestate", "foo=1,bar=2"), ("tracestate", "rojo=1,congo=2"),
                                   ("tracestate", "baz=3")],
            lambda cb, f: ts_exact(cb, [("foo", "1"), ("bar", "2"), ("rojo", "1"), ("congo", "2"),
                                        ("baz", "3")]))
    # optional whitespace around members
    for label, v in (("inner", "foo=1 \t , \t bar=2, \t baz=3"), ("inner-tabs", "foo=1\t \t,\t \tbar=2,\t \tbaz=3")):
        ts_case("ts-ows-" + label, [("tracestate", v)],
                lambda cb, f: ts_exact(cb, [("foo", "1"), ("bar", "2"), ("baz", "3")]))
    for label, v in (("sp-lead", " foo=1"), ("tab-lead", "\tfoo=1"), ("sp-trail", "foo=1 "),
                     ("tab-trail", "foo=1\t"), ("both", "\t foo=1 \t")):
        ts_case("ts-ows-" + label, [("tracestate", v)], lambda cb, f: ts_exact(cb, [("foo", "1")]))
    # every character the grammar allows, in keys and values
    key = "abcdefghijklmnopqrstuvwxyz0123456789_-*/"
    value = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in ",=")
    ts_case("ts-all-chars", [("tracestate", key + "=" + value)],
            lambda cb, f: ts_exact(cb, [(key, value)]))
    ts_case("ts-all-chars-vendor", [("tracestate", key + "@a-z0-9_-*/=" + value)],
            lambda cb, f: ts_exact(cb, [(key + "@a-z0-9_-*/", value)]))
    # 32 members are a valid list, 287 characters: forwarded whole
    m32 = ["bar%02d=%02d" % (i, i) for i in range(1, 34)]
    ts_case("ts-32-members", [("tracestate", ",".join(m32[0:10])), ("tracestate", ",".join(m32[10:20])),
                              ("tracestate", ",".join(m32[20:30])), ("tracestate", ",".join(m32[30:32]))],
            lambda cb, f: ts_exact(cb, members(",".join(m32[:32]))))
    # 33 members: dropped, or cut to whole entries (at most 32)
    sent33 = [",".join(m32[0:10]), ",".join(m32[10:20]), ",".join(m32[20:30]), ",".join(m32[30:33])]
    ts_case("ts-33-members", [("tracestate", v) for v in sent33],
            lambda cb, f: ts_whole_entries(cb, sent33))
    # invalid keys, values, duplicates: the service may drop or keep whole
    # entries; the traceparent is unaffected (parsing tracestate MUST NOT
    # affect traceparent)
    loose = [
        ("key-space", ["foo =1"]), ("key-upper", ["FOO=1"]), ("key-dot", ["foo.bar=1"]),
        ("vendor-empty", ["foo@=1,bar=2"]), ("tenant-empty", ["@foo=1,bar=2"]),
        ("double-at", ["foo@@bar=1,bar=2"]), ("two-at", ["foo@bar@baz=1,bar=2"]),
        ("key-257", ["foo=1", "z" * 257 + "=1"]), ("tenant-242", ["foo=1", "t" * 242 + "@v=1"]),
        ("vendor-15", ["foo=1", "t@" + "v" * 15 + "=1"]), ("value-eq", ["foo=bar=baz"]),
        ("value-empty", ["foo=,bar=3"]), ("dup-keys", ["foo=1,foo=1"]), ("dup-keys-2", ["foo=1,foo=2"]),
        ("dup-fields", ["foo=1", "foo=2"]),
        ("value-257", ["foo=1,big=" + "x" * 257]),
    ]
    for label, sent in loose:
        ts_case("ts-invalid-" + label, [("tracestate", v) for v in sent],
                lambda cb, f, sent=sent: ts_whole_entries(cb, sent))
    # long but valid keys
    ts_case("ts-key-256", [("tracestate", "foo=1"), ("tracestate", "z" * 256 + "=1")],
            lambda cb, f: ts_exact(cb, [("foo", "1"), ("z" * 256, "1")]))
    ts_case("ts-key-241-14", [("tracestate", "foo=1"), ("tracestate", "t" * 241 + "@" + "v" * 14 + "=1")],
            lambda cb, f: ts_exact(cb, [("foo", "1"), ("t" * 241 + "@" + "v" * 14, "1")]))
    # Size: 512 characters are propagated whole (the size otelpreload
    # documents, the spec's SHOULD); beyond, whole entries only.
    m512 = ["k%d=" % i + "v" * 58 for i in range(8)]          # 8 x 62 + 7 commas = 503
    m512.append("z=" + "w" * (512 - len(",".join(m512)) - 3))  # one more: exactly 512
    assert len(",".join(m512)) == 512
    ts_case("ts-512-chars", [("tracestate", ",".join(m512))], lambda cb, f: ts_exact(cb, members(",".join(m512))))
    long_ = ["a=1", "big=" + "x" * 200, "b=2"] + ["k%d=" % i + "v" * 90 for i in range(5)]
    ts_case("ts-over-512", [("tracestate", ",".join(long_))],
            lambda cb, f: ts_whole_entries(cb, [",".join(long_)]))
    # the restart drops tracestate even when valid
    add("ts-invalid-traceparent", "restart",
        lambda t, p: [("traceparent", "00-%s-%s-01" % (t, "0" * 16)), ("tracestate", "foo=1,bar=2")],
        lambda cbs, t, p, f: restarted(cbs[0], t))

    # --- several callbacks of one request ---
    def distinct_parents(cbs):
        ps = [traceparent(cb)[1] for cb in cbs]
        assert len(set(ps)) == len(ps), "each outbound request is its own span: parent-ids %r" % ps
        return ps

    def adv_valid(cbs, t, p, f):
        for cb in cbs:
            continued(cb, t, p, True)
        distinct_parents(cbs)

    def adv_none(cbs, t, p, f):
        distinct_parents(cbs)

    def adv_illegal(cbs, t, p, f):
        for cb in cbs:
            restarted(cb, "0" * 32)
        distinct_parents(cbs)

    add("adv-three-valid", "continue", lambda t, p: [("traceparent", std(t, p))], adv_valid, count=3)
    add("adv-three-none", "new", lambda t, p: [], adv_none, count=3)
    add("adv-three-illegal", "restart", lambda t, p: [("traceparent", "00-%s-%s-01" % ("0" * 32, p))],
        adv_illegal, count=3)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--service", required=True)
    ap.add_argument("--out")
    ap.add_argument("only", nargs="*")
    opts = ap.parse_args()
    cb = Callbacks()
    out = open(opts.out, "w") if opts.out else None
    failed = total = 0
    for name, mode, trace, parent, fields, check, count in cases():
        if opts.only and not any(name.startswith(o) for o in opts.only):
            continue
        total += 1
        paths = ["/cb/%s/%d" % (name, i) for i in range(count)]
        body = json.dumps([{"url": "http://127.0.0.1:%d%s" % (cb.port, path), "arguments": []}
                           for path in paths]).encode()
        error = None
        got = []
        try:
            status, answer = post(opts.service, fields, body)
            got = [cb.take(path) for path in paths]
            assert status.split(" ")[1:2] == ["200"], "the service answered %r %r" % (status, answer[:200])
            for path, g in zip(paths, got):
                assert len(g) == 1, "the service made %d callbacks to %s, want 1" % (len(g), path)
            cbs = [g[0] for g in got]
            verdict = check(cbs, trace, parent, None)
        except AssertionError as e:
            error = str(e)
        except Exception:
            error = traceback.format_exc()
        ok = error is None
        failed += not ok
        shown = " ".join("%s: %r" % (k, v if len(v) < 80 else v[:40] + "...") for k, v in fields)
        print("%s %-34s %s%s" % ("ok  " if ok else "FAIL", name, shown or "(no trace headers)",
                                 "" if ok else "\n       " + error.replace("\n", "\n       ")))
        if ok and isinstance(verdict, str):
            print("       tracestate %s" % verdict)
        if out:
            out.write(json.dumps({"case": name, "mode": mode, "trace": trace, "parent": parent,
                                  "sent": fields, "callbacks": [g[0] if len(g) == 1 else None for g in got],
                                  "ok": ok, "error": error}) + "\n")
    if out:
        out.close()
    print("%d of %d cases passed" % (total - failed, total))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
