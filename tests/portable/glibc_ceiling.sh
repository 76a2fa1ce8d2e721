#!/bin/bash
# The glibc objects we ship reference no symbol version newer than the
# ceiling (OP_GLIBC_CEILING, GLIBC_2.17: RHEL 7, and aarch64's first glibc),
# read with objdump -T as the issue asks and with readelf -V (the version
# needs, where the loader looks); each offending symbol is named. Also: the
# objects need only the libc family, and the exporter module exports its
# entry point and nothing else (no bundled library's symbol can interpose
# the host's, or be interposed). Checks the build's own objects, and the
# shipped copies when the build has them (build/glibc, build/dist).
. "$(dirname "$0")/../support/lib.sh" "$@"
ceiling=${OP_GLIBC_CEILING:-GLIBC_2.17}
EXPORTER=$BUILD/libotelpreload-exporter.so
need "$LIB" "$EXPORTER"

objs=("$LIB" "$EXPORTER")
for f in "$BUILD"/glibc/libotelpreload*.so "$BUILD"/dist/glibc/*.so "$BUILD"/dist/lib64/*.so \
	"$BUILD"/dist/lib/*.so "$BUILD"/dist/lib/*-linux-gnu/*.so "$BUILD"/glibc-*/libotelpreload*.so \
	"$BUILD"/dist-*/glibc/*.so "$BUILD"/dist-*/lib64/*.so "$BUILD"/dist-*/lib/*-linux-gnu/*.so; do
	[ -f "$f" ] && objs+=("$f")
done

# newer VERSION: true when GLIBC_x.y[.z] is above the ceiling.
newer() {
	awk -v a="${1#GLIBC_}" -v b="${ceiling#GLIBC_}" 'BEGIN {
		n = split(a, x, "."); m = split(b, y, ".")
		for (i = 1; i <= 3; i++) {
			if ((x[i] + 0) > (y[i] + 0)) exit 0
			if ((x[i] + 0) < (y[i] + 0)) exit 1
		}
		exit 1 }'
}

# The objdump of another architecture's objects, when there is one.
dump() {
	local machine od=objdump
	machine=$(readelf -h "$1" | sed -n 's/^ *Machine: *//p')
	case $machine in
	AArch64) command -v aarch64-linux-gnu-objdump >/dev/null && od=aarch64-linux-gnu-objdump ;;
	esac
	"$od" -T "$1"
}

total=0
for o in "${objs[@]}"; do
	dump "$o" >"$T/dynsym" 2>"$T/objdump.err" || { cat "$T/objdump.err" >&2; fail "objdump -T $o failed"; }
	# "(GLIBC_2.34) pthread_create" for a reference, "GLIBC_2.2.5 name" for a definition.
	sed -n 's/.*[ (]\(GLIBC_[0-9][0-9.]*\))\{0,1\}[ \t]\{1,\}\([^ \t]\{1,\}\)$/\2@\1/p' "$T/dynsym" |
		sort -u >"$T/versioned"
	[ -s "$T/versioned" ] || fail "objdump -T shows no GLIBC_ version in $o"
	bad=()
	while IFS=@ read -r sym ver; do
		newer "$ver" && bad+=("$sym@$ver")
	done <"$T/versioned"
	((${#bad[@]} == 0)) || fail "$o needs symbols newer than $ceiling: ${bad[*]}"
	# Any version need at all (GLIBC_PRIVATE, GLIBC_ABI_DT_RELR...) above it.
	readelf -V -W "$o" | sed -n 's/.*Name: \(GLIBC_[^ ]*\).*/\1/p' | sort -u >"$T/needs"
	while read -r ver; do
		case $ver in
		GLIBC_[0-9]*) newer "$ver" && fail "$o needs version $ver (above $ceiling)" ;;
		*) fail "$o needs version $ver" ;;
		esac
	done <"$T/needs"
	readelf -d "$o" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' >"$T/needed"
	while read -r lib; do
		case $lib in
		libc.so.6 | libpthread.so.0 | libdl.so.2 | ld-linux*.so.*) ;;
		libcurl.so.* | libprotobuf-c.so.* | libz.so.*)
			# The development build's exporter links the system's copies.
			[ "$o" = "$EXPORTER" ] || fail "$o needs $lib (only the libc family is allowed)" ;;
		*) fail "$o needs $lib (only the libc family is allowed)" ;;
		esac
	done <"$T/needed"
	case $o in
	*exporter.so)
		readelf --dyn-syms -W "$o" | awk '$1 ~ /^[0-9]+:$/ && $7 != "UND" &&
			($5 == "GLOBAL" || $5 == "WEAK") && $4 != "SECTION" { sub(/@.*/, "", $8); print $8 }' |
			sort -u >"$T/exports"
		[ "$(cat "$T/exports")" = otelpreload_exporter_v1 ] ||
			fail "$o exports more than otelpreload_exporter_v1: $(tr '\n' ' ' <"$T/exports")"
		;;
	esac
	newest=$(sed 's/.*@//' "$T/versioned" | sort -V | tail -1)
	note "${o#"$BUILD"/}: $(wc -l <"$T/versioned") versioned symbols, newest $newest; NEEDED $(tr '\n' ' ' <"$T/needed")"
	total=$((total + 1))
done
note "$total objects checked against $ceiling"
pass
