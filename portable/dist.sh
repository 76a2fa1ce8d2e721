#!/bin/sh
# Lays out the init container's volume (init-container/README.md, "The
# layout in the volume") in OUT from the glibc and musl builds:
#
#   dist.sh OUT TRIPLET GLIBC_BUILD MUSL_BUILD
#
# TRIPLET is the glibc multiarch name (x86_64-linux-gnu): glibc expands
# $LIB to lib/TRIPLET on Debian and Ubuntu, lib64 on RHEL and SUSE, lib on
# some others; musl leaves $LIB as written, so the directory literally named
# $LIB holds the musl build. glibc/ and musl/ are for the annotation that
# forces one. Each directory gets both objects side by side: the library
# loads the exporter from its own directory. Debug information is left out.
# MUSL_BUILD "-": no musl build, its two directories are left out.
set -eu
out=$1 triplet=$2 glibc=$3 musl=$4
files="libotelpreload.so libotelpreload-exporter.so"

# The objcopy of the objects' architecture, when the host's cannot read it.
objcopy=objcopy
case $triplet in
x86_64-*) ;;
*) command -v "$triplet-objcopy" >/dev/null && objcopy=$triplet-objcopy ;;
esac

rm -rf "$out"
put() { # put BUILD DIR...
	b=$1
	shift
	for d in "$@"; do
		mkdir -p "$out/$d"
		for f in $files; do
			$objcopy --strip-debug "$b/$f" "$out/$d/$f.tmp"
			chmod 0755 "$out/$d/$f.tmp"
			mv "$out/$d/$f.tmp" "$out/$d/$f"
		done
	done
}
put "$glibc" "lib/$triplet" lib64 lib glibc
# shellcheck disable=SC2016 # the literal name is the point
[ "$musl" = - ] || put "$musl" '$LIB' musl
