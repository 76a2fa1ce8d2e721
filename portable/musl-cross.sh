#!/usr/bin/env bash
# A musl cross compiler for ARCH made of Debian's gcc-ARCH-linux-gnu and
# Debian's musl packages for ARCH, in DIR (Debian ships no musl cross
# toolchain; musl-gcc is native only):
#
#   bash portable/musl-cross.sh ARCH DIR      (ARCH: aarch64)
#
# apt-get download fetches musl and musl-dev of that architecture, with a
# private package list in DIR (the system's apt state and dpkg's
# architectures are left alone), dpkg-deb unpacks them in DIR/sysroot, and
# DIR/ARCH-linux-musl-gcc runs the cross gcc with musl's specs pointed
# there. DIR/toolchain.cmake is for CMake (-DCMAKE_TOOLCHAIN_FILE), with
# qemu-ARCH as the emulator for checks that run programs. Run again it does
# nothing.
set -euo pipefail

arch=$1 dir=$2
case $arch in
aarch64) deb=arm64 ;;
*)
	echo "portable/musl-cross.sh: no Debian architecture known for $arch" >&2
	exit 2
	;;
esac
[[ -f $dir/.complete ]] && exit 0
t0=$SECONDS
rm -rf "$dir"
mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial" "$dir/sysroot"
dir=$(cd "$dir" && pwd)
apt=(apt-get -q -o "APT::Architecture=$deb" -o "APT::Architectures::=$deb"
	-o "Dir::State::Lists=$dir/apt/lists" -o "Dir::Cache=$dir/apt/cache"
	-o Dir::State::Status=/dev/null -o APT::Sandbox::User=root
	-o Acquire::IndexTargets::deb-src::Sources::DefaultEnabled=false)
cd "$dir/apt"
if ! "${apt[@]}" update >apt.log 2>&1 || ! "${apt[@]}" download "musl:$deb" "musl-dev:$deb" >>apt.log 2>&1; then
	cat apt.log >&2
	echo "portable/musl-cross.sh: could not download musl for $deb" >&2
	exit 1
fi
for f in ./*.deb; do
	dpkg-deb -x "$f" "$dir/sysroot"
done
s=$dir/sysroot
triple=$arch-linux-musl
[[ -f $s/usr/lib/$triple/musl-gcc.specs && -f $s/lib/$triple/libc.so ]] || {
	echo "portable/musl-cross.sh: the musl packages do not hold what was expected" >&2
	exit 1
}
# The specs name musl's directories as installed; point them into the
# sysroot. The linker must find libc.so (the runtime package's, in lib/)
# before the directory that holds only libc.a, or a shared object would get
# a static copy of musl.
sed -e "s|/usr/include/$triple|$s/usr/include/$triple|g" \
	-e "s|/usr/lib/$triple|$s/usr/lib/$triple|g" \
	-e "s|^\\(-L$s/usr/lib/$triple\\) |-L$s/lib/$triple \\1 |" \
	"$s/usr/lib/$triple/musl-gcc.specs" >"$dir/musl-gcc.specs"
# The cross gcc's libgcc was built for glibc: its outline atomics (the
# aarch64 default) detect LSE with glibc's __getauxval, which musl lacks.
# Inline atomics need nothing from libgcc.
extra=
[[ $arch == aarch64 ]] && extra=-mno-outline-atomics
cat >"$dir/$triple-gcc" <<EOS
#!/bin/sh
exec $arch-linux-gnu-gcc -specs "$dir/musl-gcc.specs" $extra "\$@"
EOS
chmod +x "$dir/$triple-gcc"
cat >"$dir/toolchain.cmake" <<EOS
# Written by portable/musl-cross.sh.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR $arch)
set(CMAKE_C_COMPILER $dir/$triple-gcc)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-$arch -L $s)
EOS
touch "$dir/.complete"
echo "portable: musl cross compiler for $arch in $dir ($((SECONDS - t0)) s)"
