#!/bin/bash
# The comparison the Python suites rely on (pyoutcomes.py) can fail: a
# small suite written for it (selfcheck/test_outcomes.py: ok, docstrings
# holding " ... ", output between the dots and the status, skips,
# expected failures, subtests, a failing setUpClass) is run three times
# by CPython's test runner, without the library. Two runs of the same
# code compare equal with every case read; a run in which seven cases
# change their outcome (OUTCOMES_FLIP=1) is reported with exactly those
# cases, the counts, the verdict and the exit status.
. "$(dirname "$0")/../support/lib.sh" "$@"
HERE=$SRC/tests/differential

run() {
	local d=$T/$1
	mkdir -p "$d"
	OUTCOMES_FLIP=$2 "$PYTHON" -m test -v --testdir "$HERE/selfcheck" --tempdir "$d/tmp" test_outcomes \
		>"$d/out" 2>"$d/err"
	echo $? >"$d/rc"
}
run a 0
run b 0
run flip 1

"$PYTHON" "$HERE/pyoutcomes.py" "$T/a" "$T/b" >"$T/same.log" 2>&1 ||
	{ cat "$T/same.log" >&2; fail "two equal runs compare as different"; }
grep -qx -- '-- the same outcome for all 11 cases' "$T/same.log" ||
	{ cat "$T/same.log" >&2; fail "the equal runs were not read whole"; }
note "equal runs: $(tail -n 1 "$T/same.log")"

"$PYTHON" "$HERE/pyoutcomes.py" "$T/a" "$T/flip" >"$T/flip.log" 2>&1
rc=$?
[ "$rc" = 1 ] || { cat "$T/flip.log" >&2; fail "a changed run compares with status $rc, not 1"; }
got=$(sed -n 's/^  \(\(test_\|setUpClass\)[^ ]* ([^)]*)\( ([^)]*)\)\?\)$/\1/p' "$T/flip.log" | sort)
want=$(sort <<'EOF'
test_after_fixture (test_outcomes.Fixture.test_after_fixture)
test_error_flip (test_outcomes.Kinds.test_error_flip)
test_fail_flip (test_outcomes.Kinds.test_fail_flip)
test_skip_flip (test_outcomes.Kinds.test_skip_flip)
test_subtest_flip (test_outcomes.Kinds.test_subtest_flip)
test_subtest_flip (test_outcomes.Kinds.test_subtest_flip) (i=1)
setUpClass (test_outcomes.Fixture)
EOF
)
[ "$got" = "$want" ] || {
	cat "$T/flip.log" >&2
	fail "the differing cases reported: $got"
}
for what in 'ran differs' 'summary differs' 'verdict differs' 'rc differs' 'DIFFERENCES (7 differing cases)' \
	'OSError: flipped'; do
	grep -qF "$what" "$T/flip.log" || { cat "$T/flip.log" >&2; fail "the report lacks '$what'"; }
done
note "changed run: 7 differing cases reported, with counts, verdict, exit status and tracebacks"
pass
