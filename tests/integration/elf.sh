#!/bin/bash
# The shipped object depends on the libc family only and exports exactly
# the symbols of preload/exports.map; the test-only span sources are in
# the testing library and nowhere in the shipped one.
. "$(dirname "$0")/../support/lib.sh" "$@"
need "$LIB" "$TESTLIB" "$SRC/preload/exports.map"

# NEEDED entries.
readelf -d "$LIB" >"$T/dynamic" || fail "readelf -d failed"
sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' "$T/dynamic" >"$T/needed"
[ -s "$T/needed" ] || fail "no NEEDED entry at all"
while read -r lib; do
	case $lib in
	libc.so.*|libdl.so.*|libpthread.so.*|ld-linux*.so.*) ;;
	*) fail "$LIB needs $lib (only the libc family is allowed)" ;;
	esac
done <"$T/needed"
note "NEEDED: $(tr '\n' ' ' <"$T/needed")"

# Names listed under global: in a version script, one per line, sorted.
map_symbols() {
	sed -e 's|/\*.*\*/||g' -e 's|#.*||' -e 's|//.*||' "$1" | tr -s ' \t\n;{}' '\n' |
		awk '/^global:$/ { g = 1; next } /^local:$/ { g = 0; next }
		     g && /^[A-Za-z_][A-Za-z0-9_]*$/ { print }' | sort -u
}

# Defined, global or weak, default-visibility dynamic symbols, sorted.
exported() {
	readelf --dyn-syms -W "$1" |
		awk '$1 ~ /^[0-9]+:$/ && $7 != "UND" && ($5 == "GLOBAL" || $5 == "WEAK") &&
		     $6 == "DEFAULT" && $4 != "SECTION" && $4 != "FILE" { print $8 }' |
		sed 's/@.*//' | sort -u
}

map_symbols "$SRC/preload/exports.map" >"$T/map"
[ -s "$T/map" ] || fail "no symbol found under global: in preload/exports.map"
# A version node's own name shows up as an ABS symbol; drop those.
readelf --dyn-syms -W "$LIB" | awk '$7 == "ABS" { print $8 }' | sed 's/@.*//' | sort -u >"$T/abs"
exported "$LIB" | comm -23 - "$T/abs" >"$T/exported"
if ! cmp -s "$T/map" "$T/exported"; then
	echo "in exports.map only:" >&2
	comm -23 "$T/map" "$T/exported" >&2
	echo "exported but not in exports.map:" >&2
	comm -13 "$T/map" "$T/exported" >&2
	fail "$LIB exports differ from preload/exports.map"
fi
note "$(wc -l <"$T/exported") exported symbols, exactly preload/exports.map"

# The testing library: the same plus otelpreload_test_span.
{ cat "$T/map"; echo otelpreload_test_span; } | sort -u >"$T/map.testing"
readelf --dyn-syms -W "$TESTLIB" | awk '$7 == "ABS" { print $8 }' | sed 's/@.*//' | sort -u >"$T/abs.testing"
exported "$TESTLIB" | comm -23 - "$T/abs.testing" >"$T/exported.testing"
cmp -s "$T/map.testing" "$T/exported.testing" || {
	diff "$T/map.testing" "$T/exported.testing" >&2
	fail "$TESTLIB exports differ from exports.map + otelpreload_test_span"
}

# No test-only code in the shipped library.
for s in otelpreload_test_span; do
	if grep -q "$s" "$LIB"; then fail "$LIB contains $s"; fi
done
note "no test-only symbol in the shipped library"

# The library is a shared object that the loader accepts on its own.
LD_PRELOAD="$LIB" /bin/true || fail "/bin/true fails under the library"
pass
