"""Runs CPython's regression test runner (what `python3 -m test ARGS` runs)
in this process, between two HTTP requests to a loopback probe server:

    pyrun.py --probe URL --pid-file FILE [--wait-export FILE] -- ARGS...

The first request is made before the suite starts, so that under the
library the process has a span and a running exporter for the whole suite;
the second after the suite, so that a span made after the suite shows the
library was still working at its end. The plain and the traced run both
make them, so the two runs differ only in LD_PRELOAD.

--wait-export FILE (traced runs): before the suite starts, wait until FILE
(the receiver's request log) is not empty, i.e. the exporter has delivered
the first request's span; give up with status 97 after 20 seconds.

Exits with the runner's status; 98 if a probe fails.
"""
import os
import sys
import time
import urllib.request


def probe(url, what):
    try:
        with urllib.request.urlopen("%s/otelpreload-probe-%s" % (url, what), timeout=20) as r:
            body = r.read()
    except OSError as e:
        print("pyrun: the %s probe failed: %s" % (what, e), file=sys.stderr)
        sys.exit(98)
    if body != b"probe\n":
        print("pyrun: the %s probe got %r" % (what, body), file=sys.stderr)
        sys.exit(98)


def main():
    argv = sys.argv[1:]
    if "--" not in argv:
        sys.exit("usage: pyrun.py --probe URL --pid-file FILE [--wait-export FILE] -- ARGS...")
    split = argv.index("--")
    opts = dict(zip(argv[:split:2], argv[1:split:2]))
    with open(opts["--pid-file"], "w") as f:
        f.write("%d\n" % os.getpid())

    probe(opts["--probe"], "before")
    wait = opts.get("--wait-export")
    if wait:
        deadline = time.monotonic() + 20
        while not os.path.getsize(wait):
            if time.monotonic() > deadline:
                print("pyrun: no export request reached the receiver in 20 s", file=sys.stderr)
                sys.exit(97)
            time.sleep(0.05)

    from test.libregrtest import main as regrtest
    sys.argv = [sys.argv[0]] + argv[split + 1:]
    code = 0
    try:
        regrtest()
    except SystemExit as e:
        code = e.code
    # The runner prints its summary on stdout; keep it ahead of anything
    # printed after it.
    sys.stdout.flush()
    probe(opts["--probe"], "after")
    sys.exit(code)


if __name__ == "__main__":
    main()
