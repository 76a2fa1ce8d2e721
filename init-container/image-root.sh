#!/bin/sh
# Lays out the root filesystem of the init-container image from a build
# directory configured with -DOTELPRELOAD_PORTABLE=ON:
#
#   image-root.sh BUILD ROOT
#
#   ROOT/otelpreload-install   BUILD/init-container/otelpreload-install, the entrypoint
#   ROOT/otelpreload-dist/     BUILD/dist, the volume's layout (portable/dist.sh)
#
# The one definition of what the image holds: init-container/Dockerfile's
# build stage runs it, and so does build-image.sh before packing its layer.
# Everything is made readable by all whatever the umask (the image runs as
# user 65532), and a copy identical to the one in glibc/ or musl/ becomes a
# hard link to it, so a layer stores each object once; the installer still
# writes each name as a file of its own.
set -eu
if [ $# -ne 2 ]; then
	echo "usage: image-root.sh BUILD ROOT" >&2
	exit 2
fi
build=$1 root=$2
for f in "$build/init-container/otelpreload-install" "$build/dist/glibc/libotelpreload.so"; do
	if [ ! -f "$f" ]; then
		echo "image-root.sh: no $f (configure with -DOTELPRELOAD_PORTABLE=ON and build" \
			"the targets dist and otelpreload-install)" >&2
		exit 1
	fi
done
if [ ! -f "$build/dist/musl/libotelpreload.so" ]; then
	echo "image-root.sh: warning: $build/dist has no musl build: musl (Alpine) containers" \
		"of this image's pods will not be traced" >&2
fi

rm -rf "$root"
mkdir -p "$root"
cp "$build/init-container/otelpreload-install" "$root/otelpreload-install"
cp -R "$build/dist" "$root/otelpreload-dist"
dist=$root/otelpreload-dist
find "$dist" -type f ! -path "$dist/glibc/*" ! -path "$dist/musl/*" | while IFS= read -r f; do
	for canon in glibc musl; do
		if cmp -s "$f" "$dist/$canon/${f##*/}"; then
			ln -f "$dist/$canon/${f##*/}" "$f"
			break
		fi
	done
done
chmod -R u=rwX,go=rX "$root"
