#!/usr/bin/env bash
# Installs what otelpreload needs to build, test and benchmark, and nothing
# that is already there: safe to run any number of times.
#
#   bash scripts/deps.sh            Debian packages, then the test tools (npm ci in tests/)
#   bash scripts/deps.sh --apt-only Debian packages only
#
# On a system without apt-get/dpkg-query it names the packages and carries on:
# the build then fails on whatever is really missing, with CMake's message.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

apt_only=false
case "${1:-}" in
"") ;;
--apt-only) apt_only=true ;;
*)
	echo "usage: bash scripts/deps.sh [--apt-only]" >&2
	exit 2
	;;
esac

say() { printf 'deps: %s\n' "$*"; }

packages=(
	build-essential cmake pkg-config
	libcurl4-openssl-dev zlib1g-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler
	libcunit1-dev libunwind-dev libssl-dev libgnutls28-dev
	curl wget openssl python3 hyperfine nginx-light wrk
	clang libclang-rt-14-dev
	libpython3.11-testsuite redis-server redis-tools
	valgrind
	# the plots of the benchmark suite (bench/suite.sh), and the README's waterfall
	# screenshot (scripts/screenshot.sh: a tmux pane drawn by gnuplot)
	gnuplot-nox tmux
	# the portable builds (portable/, thirdparty/): musl-gcc, and dpkg-source and patch to unpack Debian's sources
	musl-tools dpkg-dev patch
	# the aarch64 copy: cross compiler, its glibc, and qemu-user to run it in tests
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
	# otelpreload inject reads and writes YAML; the k8s tests apply patches and read YAML
	libyaml-dev python3-yaml python3-jsonpatch
	# the init-container image without Docker (init-container/build-image.sh, tests/image): OCI layout, docker-archive
	umoci skopeo
)

installed() {
	[[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

# The machine's Node.js may not come from Debian (a vendor build bundles its
# own npm); Debian's npm would then conflict with it, so working tools win.
if node --version >/dev/null 2>&1 && npm --version >/dev/null 2>&1; then
	:
elif node --version >/dev/null 2>&1; then
	packages+=(npm)
else
	packages+=(nodejs npm)
fi

# kubectl renders init-container/deploy offline (`kubectl kustomize`) for the
# webhook tests. One already on PATH (a vendor's or a newer one) wins: its
# package may own /usr/bin/kubectl, which Debian's kubernetes-client (1.20)
# would conflict with.
if ! command -v kubectl >/dev/null; then
	packages+=(kubernetes-client)
fi

apt_part() {
	if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
		say "no apt-get here; make sure these (or their equivalents) are installed: ${packages[*]}"
		return 0
	fi

	local missing=() p
	for p in "${packages[@]}"; do
		# Another libcurl development package satisfies the build as well;
		# installing the OpenSSL one would make apt remove it.
		if [[ $p == libcurl4-openssl-dev ]] &&
			{ installed libcurl4-gnutls-dev || installed libcurl4-nss-dev; }; then
			continue
		fi
		installed "$p" || missing+=("$p")
	done
	if ((${#missing[@]} == 0)); then
		say "Debian packages present"
		return 0
	fi

	local sudo=()
	if ((EUID != 0)); then
		if ! command -v sudo >/dev/null; then
			say "not root and no sudo: install ${missing[*]} as root" >&2
			return 1
		fi
		sudo=(sudo)
	fi
	say "installing ${missing[*]}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q update
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
		-o DPkg::Lock::Timeout=300 --no-install-recommends install "${missing[@]}"
}

# tests/node_modules is current when it is newer than the lock file: npm ci
# recreates it, and npm writes node_modules/.package-lock.json on every
# install, so their time stamps are those of the last install.
npm_part() {
	[[ -f tests/package.json ]] || return 0
	local lock=tests/package-lock.json stamp=tests/node_modules/.package-lock.json
	[[ -f $lock ]] || lock=tests/package.json
	[[ -e $stamp ]] || stamp=tests/node_modules
	if [[ -d tests/node_modules && ! $lock -nt $stamp ]]; then
		say "tests/node_modules up to date"
		return 0
	fi
	if ! command -v npm >/dev/null; then
		say "npm not found; cannot install tests/node_modules" >&2
		return 1
	fi
	say "installing tests/node_modules"
	if [[ -f tests/package-lock.json ]]; then
		(cd tests && npm ci --no-audit --no-fund --loglevel=error)
	else
		(cd tests && npm install --no-audit --no-fund --loglevel=error)
	fi
}

# thirdparty/fetch.sh builds the exporter's dependencies from Debian's
# source packages (apt-get source), which needs deb-src entries: add them,
# for the Debian archives apt already uses, when there are none.
deb_src_part() {
	command -v apt-get >/dev/null || return 0
	apt-cache showsrc zlib 2>/dev/null | grep -q '^Package: zlib$' && return 0
	local f=/etc/apt/sources.list.d/otelpreload-deb-src s d822= lines=
	for s in /etc/apt/sources.list.d/*.sources; do
		[[ -f $s && $s != "$f.sources" ]] || continue
		# deb822 stanzas (blank-line separated) of Debian's archives only.
		d822+=$(awk 'BEGIN { RS = ""; ORS = "\n\n" } /URIs:[^\n]*debian/ && /Types:[^\n]*deb/ {
			sub(/Types:[^\n]*/, "Types: deb-src"); print }' "$s")$'\n\n'
	done
	for s in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -f $s && $s != "$f.list" ]] || continue
		lines+=$(sed -n 's/^deb \(\(\[[^]]*\] \)\{0,1\}[^ ]*debian[^ ]* .*\)/deb-src \1/p' "$s")$'\n'
	done
	if [[ -z ${d822//[$'\n']/} && -z ${lines//[$'\n']/} ]]; then
		say "no Debian archive in apt's sources: add deb-src entries by hand for thirdparty/fetch.sh"
		return 0
	fi
	local sudo=()
	((EUID == 0)) || sudo=(sudo)
	say "adding deb-src entries ($f.*)"
	[[ -z ${d822//[$'\n']/} ]] || printf '%s' "$d822" | "${sudo[@]}" tee "$f.sources" >/dev/null
	[[ -z ${lines//[$'\n']/} ]] || printf '%s' "$lines" | "${sudo[@]}" tee "$f.list" >/dev/null
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q update
}

apt_part
deb_src_part
$apt_only || npm_part
