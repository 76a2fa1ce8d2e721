#!/usr/bin/env bash
# Builds the init-container image without Docker, with Debian's umoci: the
# image of init-container/Dockerfile, as an OCI image layout.
#
#   build-image.sh [--docker-archive FILE] BUILD OUT
#
# BUILD is a build directory configured with -DOTELPRELOAD_PORTABLE=ON, its
# targets dist and otelpreload-install built (`cmake --build BUILD --target
# image` builds them and runs this). OUT becomes an OCI layout holding one
# image tagged with the project's version (OUT:0.1.0). --docker-archive also
# writes FILE for `docker load`, naming the image otelpreload-init:VERSION
# (needs skopeo).
#
# The same image as the Dockerfile's: the root filesystem is image-root.sh's,
# which the Dockerfile runs too, and the user, entrypoint, command and labels
# are read from the Dockerfile's last stage. One layer on no base (scratch),
# for the architecture the installer was built for. Deterministic: the layer
# is a tar sorted by name with owner 0:0 and every time stamp, the image's
# included, set to SOURCE_DATE_EPOCH (default: the last commit's time, else
# 0), so one build gives the same digests every time.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(dirname "$here")
NAME=otelpreload-init

die() {
	echo "build-image.sh: $*" >&2
	exit 1
}

archive=
while [[ $# -gt 0 && $1 == --* ]]; do
	case $1 in
	--docker-archive)
		[[ $# -ge 2 ]] || die "--docker-archive needs a file name"
		archive=$2
		shift 2
		;;
	*) die "unknown option $1" ;;
	esac
done
[[ $# -eq 2 ]] || {
	echo "usage: build-image.sh [--docker-archive FILE] BUILD OUT" >&2
	exit 2
}
build=$1 out=$2
command -v umoci >/dev/null || die "umoci is not installed (Debian package umoci; scripts/deps.sh installs it)"
if [[ -n $archive ]]; then
	command -v skopeo >/dev/null || die "skopeo is not installed (Debian package skopeo), needed for --docker-archive"
fi

version=$(sed -n 's/^project(otelpreload VERSION \([0-9][0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[[ -n $version ]] || die "no project version in $src/CMakeLists.txt"
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$src" log -1 --format=%ct 2>/dev/null || echo 0)}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)

# The image configuration, as umoci-config options, from the Dockerfile.
mapfile -t config < <(python3 - "$here/Dockerfile" "$version" <<'PY'
import json, re, shlex, sys

path, version = sys.argv[1], sys.argv[2]
def die(msg):
    sys.exit("build-image.sh: %s: %s" % (path, msg))

text = re.sub(r"\\\n", " ", open(path).read())
insts = [l.strip() for l in text.splitlines() if l.strip() and not l.lstrip().startswith("#")]
froms = [i for i, l in enumerate(insts) if l.split()[0].upper() == "FROM"]
if not froms or insts[froms[-1]].split()[1] != "scratch":
    die("the last stage is not FROM scratch")
args, opts, seen = {}, [], set()
def subst(s):
    def arg(m):
        name = m.group(1) or m.group(2)
        if name not in args:
            die("$%s is not an ARG of the last stage" % name)
        return args[name]
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", arg, s)
for line in insts[froms[-1] + 1:]:
    word, _, rest = line.partition(" ")
    word, rest = word.upper(), rest.strip()
    seen.add(word)
    if word == "COPY":
        continue
    if word == "ARG":
        k, _, v = rest.partition("=")
        args[k] = shlex.split(v)[0] if v else ""
    elif word == "USER":
        opts += ["--config.user", subst(rest)]
    elif word in ("ENTRYPOINT", "CMD"):
        for a in json.loads(rest):
            opts += ["--config." + word.lower(), subst(a)]
    elif word == "LABEL":
        for kv in shlex.split(subst(rest)):
            opts += ["--config.label", kv]
    else:
        die("%s in the last stage: build-image.sh knows COPY, ARG, USER, ENTRYPOINT, CMD and LABEL" % word)
if args.get("VERSION") != version:
    die("ARG VERSION=%s, but CMakeLists.txt says %s" % (args.get("VERSION"), version))
for need in ("USER", "ENTRYPOINT", "CMD", "LABEL"):
    if need not in seen:
        die("the last stage has no " + need)
print("\n".join(opts))
PY
)
[[ ${#config[@]} -gt 0 ]] || die "could not read the image configuration from $here/Dockerfile"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/otelpreload-image.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
sh "$here/image-root.sh" "$build" "$tmp/root"

# machine ELF: the ELF machine number of a file (e_machine, little-endian).
machine() {
	[[ $(head -c 4 "$1" | od -An -c | tr -d ' ') == 177ELF ]] || return 0
	od -An -tu2 -j18 -N2 "$1" | tr -d ' '
}
case $(machine "$tmp/root/otelpreload-install") in
62) arch=amd64 ;;
183) arch=arm64 ;;
*) die "$build/init-container/otelpreload-install is not an x86_64 or aarch64 executable" ;;
esac
want=$(machine "$tmp/root/otelpreload-install")
while IFS= read -r f; do
	[[ $(machine "$f") == "$want" ]] || die "${f#"$tmp/root/"} is not built for $arch like the installer"
done < <(find "$tmp/root/otelpreload-dist" -type f)

tar --sort=name --format=posix --numeric-owner --owner=0 --group=0 --mtime="@$epoch" \
	--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
	-C "$tmp/root" -cf "$tmp/layer.tar" otelpreload-install otelpreload-dist

rm -rf "$out"
umoci init --layout "$out"
umoci new --image "$out:$version"
umoci raw add-layer --image "$out:$version" --history.created "$created" \
	--history.created_by "init-container/image-root.sh (build-image.sh)" "$tmp/layer.tar"
umoci config --image "$out:$version" --no-history --created "$created" \
	--os linux --architecture "$arch" "${config[@]}"
umoci gc --layout "$out"
chmod -R a+rX "$out"
digest=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' \
	"$out/index.json")
echo "build-image.sh: $out:$version ($arch, manifest $digest)"

if [[ -n $archive ]]; then
	rm -f "$archive"
	skopeo copy --quiet "oci:$out:$version" "docker-archive:$archive:$NAME:$version"
	echo "build-image.sh: $archive (docker load -i $archive: $NAME:$version)"
fi
