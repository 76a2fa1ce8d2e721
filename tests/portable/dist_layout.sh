#!/bin/bash
# build/dist is the init container's volume as init-container/README.md
# lays it out: the glibc build in lib/TRIPLET, lib64, lib and glibc, the
# musl build in the directory literally named $LIB and in musl, each with
# the library and the exporter module side by side and nothing else. Then
# the point of it: one value, LD_PRELOAD=DIST/$LIB/libotelpreload.so with
# the literal $LIB, loads the glibc build into a glibc program (glibc's
# loader expands $LIB) and the musl build into a musl program (musl's does
# not), and each exports its span through the exporter module next to it.
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/support/http_lib.sh"
. "$SRC/tests/portable/portable_lib.sh"
triplet=$(gcc -dumpmachine | sed 's/^\([^-]*\)-.*/\1-linux-gnu/')
# shellcheck disable=SC2016 # the literal $LIB is the point
VALUE='$LIB/libotelpreload.so'

# kind FILE: the C library an object of ours was linked against.
kind() {
	case $(readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(libc\.so[^]]*\)\]/\1/p') in
	libc.so.6) echo glibc ;;
	libc.so) echo musl ;;
	*) echo unknown ;;
	esac
}

want="lib/$triplet:glibc lib64:glibc lib:glibc glibc:glibc \$LIB:musl musl:musl"
expected=()
for e in $want; do
	d=${e%%:*} k=${e##*:}
	for f in libotelpreload.so libotelpreload-exporter.so; do
		[ -f "$DIST/$d/$f" ] || fail "dist has no $d/$f"
		[ "$(kind "$DIST/$d/$f")" = "$k" ] || fail "dist/$d/$f is a $(kind "$DIST/$d/$f") build, not $k"
		cmp -s "$DIST/$d/$f" "$DIST/$k/$f" || fail "dist/$d/$f differs from dist/$k/$f"
		expected+=("./$d/$f")
	done
done
(cd "$DIST" && find . -type f | sort) >"$T/files"
printf '%s\n' "${expected[@]}" | sort >"$T/expected"
cmp -s "$T/files" "$T/expected" || {
	diff "$T/expected" "$T/files" >&2
	fail "dist holds other files than the layout's"
}
note "layout: $want"

# Which build each program's loader picks for the one value.
got=$(LD_PRELOAD="$DIST/$VALUE" "$GLIBC_PROG" --maps)
[ "$got" = "$DIST/lib/$triplet/libotelpreload.so" ] ||
	fail "the glibc program loaded '$got' for LD_PRELOAD=$DIST/$VALUE"
got=$(LD_PRELOAD="$DIST/$VALUE" "$MUSL_PROG" --maps)
[ "$got" = "$DIST/$VALUE" ] || fail "the musl program loaded '$got' for LD_PRELOAD=$DIST/$VALUE"
note "LD_PRELOAD=dist/$VALUE: glibc program -> lib/$triplet (glibc build), musl program -> \$LIB (musl build)"

# Both trace and export from there.
start_receiver
start_peer
for p in "$GLIBC_PROG" "$MUSL_PROG"; do
	svc=$(basename "$p")
	LIB="$DIST/$VALUE" traced "$svc" "$p" 127.0.0.1 "$PPORT" /echo >"$T/$svc.out" 2>"$T/$svc.err"
	[ "$RC" = 0 ] || fail "$svc failed under dist/$VALUE ($RC): $(cat "$T/$svc.err")"
	[ -s "$T/$svc.err" ] && fail "$svc: the library wrote to stderr: $(cat "$T/$svc.err")"
	grep -q '^traceparent: 00-' "$T/$svc.out" || fail "$svc: the peer saw no traceparent"
done
wait_spans "$RSPANS" 2 10 || fail "expected 2 spans, the receiver has $(count_lines "$RSPANS")"
check_json "$RSPANS" <<'PY'
names = sorted(r["resource"]["service.name"] for r in rows)
assert names == ["http_get-glibc", "http_get-musl"], names
PY
note "both exported through the exporter module beside the library"
pass
