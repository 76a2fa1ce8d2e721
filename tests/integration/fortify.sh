#!/bin/bash
# glibc's fortified entry points behave the same under the library: the
# same bytes within the bound, and the same abort beyond it.
. "$(dirname "$0")/../support/lib.sh" "$@"
FORTIFY=$BUILD/tests/fortify
need "$LIB" "$FORTIFY"

"$FORTIFY" >"$T/plain.out" 2>"$T/plain.err"; plain=$?
LD_PRELOAD="$LIB" "$FORTIFY" >"$T/lib.out" 2>"$T/lib.err"; lib=$?
[ "$plain" = 0 ] || fail "fortify exits $plain without the library"
[ "$lib" = "$plain" ] || fail "fortify exits $lib under the library, $plain without"
cmp -s "$T/plain.out" "$T/lib.out" || fail "output differs: $(cat "$T/lib.out")"
grep -qx 'recvfrom_chk 4 efgh' "$T/lib.out" || fail "unexpected output: $(cat "$T/lib.out")"

"$FORTIFY" overflow >/dev/null 2>"$T/plain.err"; plain=$?
LD_PRELOAD="$LIB" "$FORTIFY" overflow >/dev/null 2>"$T/lib.err"; lib=$?
[ "$plain" = 134 ] || fail "overflow exits $plain without the library (expected SIGABRT, 134)"
[ "$lib" = 134 ] || fail "overflow exits $lib under the library (expected SIGABRT, 134)"
grep -q 'buffer overflow detected' "$T/lib.err" || fail "no fortify message under the library"
note "in bound: same bytes; overflow: abort 134 with and without the library"
pass
