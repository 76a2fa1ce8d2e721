# Helpers for the process suite's span checks, imported by the snippets
# given to check_json (tests/support/lib.sh):
#   import sys; sys.path.insert(0, args["here"]); from proccheck import *
from collections import Counter, defaultdict
from urllib.parse import urlparse


def path_of(span):
    """The request path of an HTTP client span ("" for other spans)."""
    url = span["attributes"].get("url.full")
    return urlparse(url).path if url else ""


def pid_of(span):
    return span["resource"]["process.pid"]


def paths_by_pid(rows):
    """{pid: Counter of request paths} over the HTTP client spans."""
    out = defaultdict(Counter)
    for s in rows:
        p = path_of(s)
        if p:
            out[pid_of(s)][p] += 1
    return out


def records(text, first):
    """Lines of program output starting with `first`, as dicts of their key=value words."""
    out = []
    for line in text.splitlines():
        words = line.split()
        if words and words[0] == first:
            out.append(dict(w.split("=", 1) for w in words[1:] if "=" in w))
    return out


def expect_paths(got, pid, want, what, errors):
    """Appends to errors unless process pid's spans are exactly the paths in want, once each."""
    have = got.get(pid, Counter())
    want = Counter(want)
    if have != want:
        missing = sorted((want - have).elements())
        extra = sorted((have - want).elements())
        errors.append("%s (pid %d): %d of %d spans arrived; missing %s; unexpected or repeated %s"
                      % (what, pid, sum((have & want).values()), sum(want.values()),
                         missing[:6], extra[:6]))
