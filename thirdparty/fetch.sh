#!/usr/bin/env bash
# Fetches the Debian source packages the bundled exporter is built from into
# DIR, unpacked with Debian's patches applied (dpkg-source -x), each under
# its package name: DIR/curl, DIR/mbedtls, DIR/nghttp2, DIR/zlib,
# DIR/protobuf-c, then our own patches (thirdparty/PACKAGE-*.patch) on top.
# DIR/.complete marks a finished fetch with those patches; run again it
# does nothing. Needs deb-src entries in apt's sources (scripts/deps.sh adds
# them). apt has checked the files against the archive's signed index, so
# dpkg-source does not check signatures again (--no-check).
#
#   bash thirdparty/fetch.sh DIR
set -euo pipefail

dir=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pkgs=(curl mbedtls nghttp2 zlib protobuf-c)
stamp=$(cat "$here"/*.patch | sha256sum)
[[ -f $dir/.complete && $(cat "$dir/.complete") == "$stamp" ]] && exit 0
t0=$SECONDS
rm -rf "$dir"
mkdir -p "$dir/dl"
cd "$dir/dl"
# apt drops privileges to _apt for downloads when it can; the build
# directory may not be writable by _apt, and that is harmless.
if ! apt-get -q -o APT::Sandbox::User=root source --download-only "${pkgs[@]}" >fetch.log 2>&1; then
	cat fetch.log >&2
	echo "thirdparty/fetch.sh: apt-get source failed; does apt have deb-src entries" \
		"(bash scripts/deps.sh adds them)?" >&2
	exit 1
fi
for p in "${pkgs[@]}"; do
	dsc=$(ls "$p"_*.dsc | head -1)
	dpkg-source --no-check -x "$dsc" "../$p" >>fetch.log 2>&1 || {
		cat fetch.log >&2
		echo "thirdparty/fetch.sh: dpkg-source -x $dsc failed" >&2
		exit 1
	}
	for patch in "$here/$p"-*.patch; do
		[[ -e $patch ]] || continue
		patch -d "../$p" -p1 --forward --quiet <"$patch" >>fetch.log 2>&1 || {
			cat fetch.log >&2
			echo "thirdparty/fetch.sh: $patch does not apply" >&2
			exit 1
		}
	done
	echo "thirdparty: $dsc"
done
echo "$stamp" >../.complete
echo "thirdparty: fetched and unpacked in $((SECONDS - t0)) s"
