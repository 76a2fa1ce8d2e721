"""Compares two runs of a CPython regression suite (`python3 -m test -v`),
one plain and one under the library, test case by test case.

    pyoutcomes.py PLAIN_DIR TRACED_DIR

Each directory holds `out` (the runner's stdout), `err` (its stderr) and
`rc` (its exit status). The outcome of every test case is read from the
verbose lines unittest writes,

    test_x (test.test_mod.Class.test_x) ... ok
    test_y (test.test_mod.Class.test_y) ... skipped 'reason'
      test_z (test.test_mod.Class.test_z) (i=1) ... FAIL      (a subtest)
    setUpClass (test.test_mod.Class) ... ERROR                (a fixture)

and the runs must agree on every case's outcome (skip reasons included),
on unittest's counts and summaries ("Ran N tests", "OK (skipped=5)", one
of each per test module), on the runner's verdict ("Tests result: SUCCESS") and on the exit status. The
parse is checked against unittest's own count, so a case whose line could
not be read fails the comparison instead of vanishing from it. A plain run
that ran nothing (a suite skipped as a whole) fails too: it would compare
nothing. Prints the figures of both runs; on a difference, each differing
case with the traced run's report of it, and exits 1.
"""
import collections
import os
import re
import sys

# A case's line: "name (test.module[.Class[.name]])", for a subtest its
# " [message] (parameters)", then " ... " and the status. With a docstring, unittest puts
# the docstring's first line and the " ... " on the next line.
ENTRY = re.compile(r"^(?P<indent>  )?(?P<desc>(?P<name>\w+) \((?P<where>test[\w.]*)\)(?P<sub>(?: \[.*?\])?(?: \(.*?\))?))"
                   r"(?: \.\.\. ?(?P<rest>.*))?$")
STATUS = re.compile(r"^(ok|FAIL|ERROR|skipped .*|expected failure|unexpected success)$")
FIXTURES = {"setUpClass", "tearDownClass", "setUpModule", "tearDownModule"}


def after_dots(line):
    """What follows the " ... " of a docstring line (the docstring may hold
    " ... " too: the status is what follows the last one), or None."""
    parts = line.split(" ... ")
    if len(parts) < 2:
        return None
    for k in range(1, len(parts)):
        rest = " ... ".join(parts[k:])
        if STATUS.match(rest.strip()):
            return rest
    return " ... ".join(parts[1:])


class Run:
    def __init__(self, path):
        self.path = path
        with open(os.path.join(path, "out"), errors="replace") as f:
            self.lines = f.read().splitlines()
        with open(os.path.join(path, "rc")) as f:
            self.rc = f.read().strip()
        self.outcomes = collections.OrderedDict()
        self.tests = 0
        self.problems = []
        self.parse()
        # One "Ran N tests" and one summary per test module.
        ran = self.every(r"^Ran (\d+) tests? in ")
        self.ran = sum(int(n) for n in ran) if ran else None
        self.summary = "; ".join(self.every(r"^((?:OK|FAILED)\b.*)$")) or None
        verdict = self.every(r"^Tests result: (.*)$")
        self.verdict = verdict[-1] if verdict else None

    def every(self, pattern):
        found = []
        for line in self.lines:
            m = re.match(pattern, line)
            if m:
                found.append(m.group(1))
        return found

    def parse(self):
        lines = self.lines
        for i, line in enumerate(lines):
            m = ENTRY.match(line)
            if not m:
                continue
            rest = m.group("rest")
            if rest is None:
                # The docstring line, or not a case's line at all.
                rest = after_dots(lines[i + 1]) if i + 1 < len(lines) else None
                if rest is None:
                    continue
                i += 1
            desc, rest = m.group("desc"), rest.strip()
            if not m.group("indent") and m.group("name") not in FIXTURES:
                self.tests += 1
            if not STATUS.match(rest):
                rest = self.status_after(i)
            if desc in self.outcomes:
                self.problems.append("%s reported twice" % desc)
            self.outcomes[desc] = rest

    def status_after(self, i):
        """The outcome of a case whose line does not end in its status:
        its subtests failed (their lines follow), or the case printed
        something after the dots (the status is then a line of its own
        further down, before the next case)."""
        lines = self.lines
        if i + 1 < len(lines):
            m = ENTRY.match(lines[i + 1])
            if m and m.group("indent"):
                return "(subtests reported)"
        for line in lines[i + 1:]:
            m = ENTRY.match(line)
            if m and m.group("rest") is not None:
                break
            if STATUS.match(line.strip()):
                return line.strip()
        return "(no status)"

    def counts(self):
        c = collections.Counter(o.split(" ", 1)[0] if o.startswith("skipped") else o
                                for o in self.outcomes.values())
        return ", ".join("%s %d" % kv for kv in sorted(c.items()))

    def report_of(self, desc):
        """The runner's report of a failed case (the block after the
        ERROR:/FAIL: header naming it), for the messages."""
        for i, line in enumerate(self.lines):
            if line in ("ERROR: " + desc, "FAIL: " + desc):
                block = []
                for l in self.lines[i + 2:]:
                    if l.startswith("=" * 70) or (l.startswith("-" * 70) and block and not block[-1]):
                        break
                    block.append(l)
                return "\n".join("      " + l for l in block[:40])
        return ""


def main():
    plain, traced = Run(sys.argv[1]), Run(sys.argv[2])
    bad = []
    for r, what in ((plain, "plain"), (traced, "traced")):
        print("-- %s: exit %s, ran %s, parsed %d cases (%s); %s; %s" % (
            what, r.rc, r.ran, len(r.outcomes), r.counts(), r.summary, r.verdict))
        if r.ran is None or r.ran != r.tests:
            bad.append("%s run: unittest ran %s tests but %d were read from its output"
                       % (what, r.ran, r.tests))
        bad += ["%s run: %s" % (what, p) for p in r.problems]
        unread = [d for d, o in r.outcomes.items() if o == "(no status)"]
        if unread:
            bad.append("%s run: no status found for %s" % (what, ", ".join(unread[:10])))
    if not plain.ran:
        bad.append("the plain run ran no test: nothing to compare")
    elif "ok" not in plain.outcomes.values():
        bad.append("no test passed in the plain run: nothing to compare")

    diffs = []
    for desc in list(plain.outcomes) + [d for d in traced.outcomes if d not in plain.outcomes]:
        a, b = plain.outcomes.get(desc, "(not run)"), traced.outcomes.get(desc, "(not run)")
        if a != b:
            diffs.append(desc)
            bad.append("%s\n    plain:  %s\n    traced: %s\n%s" % (desc, a, b, traced.report_of(desc)))
    for what in ("ran", "summary", "verdict", "rc"):
        a, b = getattr(plain, what), getattr(traced, what)
        if a != b:
            bad.append("%s differs: plain %r, traced %r" % (what, a, b))

    if bad:
        print("DIFFERENCES (%d differing cases):" % len(diffs))
        for b in bad:
            print("  " + b)
        sys.exit(1)
    print("-- the same outcome for all %d cases" % len(plain.outcomes))


if __name__ == "__main__":
    main()
