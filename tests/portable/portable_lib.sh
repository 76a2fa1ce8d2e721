# Helpers for the tests of the shipped copies (tests/portable). Source it
# after lib.sh and http_lib.sh:
#   . "$SRC/tests/portable/portable_lib.sh"
#
# Sets DIST (build/dist), GLIBC_PROG and MUSL_PROG (tests/portable/http_get.c
# built with gcc and with musl-gcc).

DIST=$BUILD/dist
GLIBC_PROG=$BUILD/tests/portable/http_get-glibc
MUSL_PROG=$BUILD/tests/portable/http_get-musl
need "$DIST" "$GLIBC_PROG" "$MUSL_PROG"

# interp PROGRAM: the program's dynamic linker (PT_INTERP).
interp() {
	readelf -l "$1" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p'
}

# make_root DIR glibc|musl: a root filesystem with nothing but that C
# library (as its runtime package installs it), /app/http_get built for it
# and the volume /otelpreload (a copy of build/dist). No libcurl, no TLS
# library, no protobuf-c, no zlib, no shell.
make_root() {
	local r=$1 libc=$2 ld f dir
	mkdir -p "$r/app" "$r/etc/ssl/certs"
	cp -a "$DIST" "$r/otelpreload"
	if [ "$libc" = musl ]; then
		cp "$MUSL_PROG" "$r/app/http_get"
		ld=$(interp "$MUSL_PROG")
		mkdir -p "$r$(dirname "$ld")"
		cp -L "$ld" "$r$ld"
	else
		cp "$GLIBC_PROG" "$r/app/http_get"
		ld=$(interp "$GLIBC_PROG")
		mkdir -p "$r$(dirname "$ld")"
		cp -L "$ld" "$r$ld"
		# libc6's libraries, in their directory (on the loader's default path).
		for f in libc.so.6 libpthread.so.0 libdl.so.2; do
			f=$(gcc -print-file-name="$f")
			dir=$(dirname "$(readlink -f "$f")")
			mkdir -p "$r$dir"
			cp -L "$f" "$r$dir/$(basename "$f")"
		done
	fi
}

# in_root ROOT [NAME=VALUE...] PROGRAM [ARG...]: runs PROGRAM chrooted in
# ROOT with exactly the environment given (as a pod's container gets the
# one the webhook wrote), in a user namespace unless we are root. Its exit
# status is left in RC.
in_root() {
	local root=$1 run=()
	shift
	[ "$(id -u)" = 0 ] || run=(unshare -r)
	"${run[@]}" "$PYTHON" -c 'import os, sys
root, argv, env = sys.argv[1], sys.argv[2:], {}
while "=" in argv[0]:
    k, v = argv.pop(0).split("=", 1)
    env[k] = v
os.chroot(root)
os.chdir("/")
os.execve(argv[0], argv, env)' "$root" "$@"
	RC=$?
}
