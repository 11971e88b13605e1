#!/usr/bin/env bash
# Builds the runner image of `topo k8s render` without a registry: a Debian 12 rootfs from mmdebstrap, the
# host's Node 20, this checkout's topo (dist/, production node_modules) and the default guest prebuilt, imported
# with `podman import`. Prints the image reference. Skips the build when an image of the same inputs exists.
# Usage: scripts/runner-image.sh [TAG]   (default localhost/topo-runner:ci)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
tag=${1:-localhost/topo-runner:ci}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$repo/scripts/podman/containers.conf}

# What a node needs at run time: scripts/setup.sh's list without build, test and guest-build tools
# (the guest is prebuilt below; shares: cannot run in a pod).
pkgs=(qemu-system-x86 qemu-utils ovmf swtpm swtpm-tools mtools systemd-boot-efi binutils util-linux iproute2 erofs-utils procps)
# podman runs an httpGet liveness probe as `curl -f URL` inside the container.
pkgs+=(curl)
# Debian 12's nodejs is 18: the host's Node 20 (the nodesource deb) is copied in.
node_bin=$(readlink -f "$(command -v node)")
"$node_bin" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
  { echo "runner-image: $node_bin is Node $("$node_bin" --version); topo needs 20 or later" >&2; exit 1; }
suite=bookworm
sources=/etc/apt/sources.list.d/debian.sources
[ -f "$sources" ] || sources="deb http://deb.debian.org/debian $suite main"
cache=/var/cache/topo

log() { echo "runner-image: $*" >&2; }

# One build at a time (CI builds once, tests may call again meanwhile): the second waits, then finds the image.
exec 9>"${TMPDIR:-/tmp}/topo-runner-image.lock"
flock 9

# dist/ goes into the image: rebuilt when missing or older than a source it is built from.
if [ ! -f dist/cli/main.js ] || [ -n "$(find src schemas guest package.json tsconfig.build.json -newer dist/cli/main.js -print -quit)" ]; then
  log "npm run build (dist/ missing or stale)"
  npm run --silent build >&2
fi
# The default guest, built (or verified) in this user's cache and copied into the image.
node bin/topo.js guest build >&2
guest_json=$(node bin/topo.js guest info --json)
guest_dir=$(node -e 'process.stdout.write(JSON.parse(process.argv[1]).dir)' "$guest_json")
[ -f "$guest_dir/manifest.json" ] || { log "no default guest in $guest_dir"; exit 1; }

# The inputs' hash names the image: same script, packages, Node, topo and guest -> same image.
inputs=$(
  {
    sha256sum "$0" "$node_bin" package.json package-lock.json "$guest_dir/manifest.json"
    printf '%s\n' "${pkgs[@]}" "$suite"
    cat "$sources" 2>/dev/null || echo "$sources"
    find bin dist schemas guest -type f -print0 | sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-16
)
content_tag=localhost/topo-runner:in-$inputs
if podman image exists "$content_tag"; then
  podman tag "$content_tag" "$tag"
  log "$content_tag exists (inputs unchanged): tagged $tag"
  echo "$tag"
  exit 0
fi

start=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/topo-runner-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
stage=$work/stage
mkdir -p "$stage/opt/topo/node_modules" "$stage/usr/local/bin" "$stage$cache/guest/$(basename "$guest_dir")"

cp -a bin dist schemas guest package.json "$stage/opt/topo/"
# Production dependencies only (the native addon unix-socketpair is built against the same glibc).
npm ls --omit=dev --all --parseable | while read -r p; do
  rel=${p#"$repo"/}
  case $rel in node_modules/*) ;; *) continue ;; esac
  mkdir -p "$stage/opt/topo/$(dirname "$rel")"
  [ -e "$stage/opt/topo/$rel" ] || cp -a "$(readlink -f "$p")" "$stage/opt/topo/$rel"
done
cp "$node_bin" "$stage/usr/local/bin/node"
ln -s /opt/topo/bin/topo.js "$stage/usr/local/bin/topo"

for f in manifest.json initrd.img vmlinux vmlinuz; do
  [ -f "$guest_dir/$f" ] && cp "$guest_dir/$f" "$stage$cache/guest/$(basename "$guest_dir")/"
done
# The image keeps apt's package lists (gzip, no translations): a runner resolves and downloads a node's packages:
# as uid 1000. topo memoizes the default guest's inputs keyed by the lists' mtime: the lists directory gets a fixed
# one (whole seconds survive the tarball) and the memo its stamp, so a runner uses the prebuilt guest by key even if
# the mirror moved on since the guest was built on this host.
lists_epoch=$(date +%s)
node -e '
  const i = JSON.parse(process.argv[1]);
  const inputs = { kernelPackage: i.kernelPackage, kernelPackageVersion: i.kernelPackageVersion, busyboxVersion: i.busyboxVersion };
  process.stdout.write(JSON.stringify({ stamp: `${process.argv[2]}000,0|`, inputs }));
' "$guest_json" "$lists_epoch" > "$stage$cache/guest/apt-inputs.json"

log "mmdebstrap $suite (${#pkgs[@]} packages) ..."
# apt's cleanup is ours (skip=cleanup/apt): mmdebstrap's would empty /var/lib/apt/lists after the hooks.
mmdebstrap --quiet --variant=minbase --include="$(IFS=,; echo "${pkgs[*]}")" --skip=cleanup/apt \
  --aptopt='Acquire::GzipIndexes "true"' --aptopt='Acquire::Languages "none"' \
  --customize-hook="sync-in $stage /" \
  --customize-hook='chroot "$1" useradd --uid 1000 --user-group --create-home --shell /bin/sh topo' \
  --customize-hook='rm -rf "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb "$1/usr/share/doc" "$1/usr/share/man" "$1/usr/share/locale"' \
  --customize-hook="touch -d @$lists_epoch \"\$1/var/lib/apt/lists\"" \
  --customize-hook='chmod -R a+rX,go-w "$1/opt/topo" "$1/var/cache/topo"' \
  "$suite" "$work/rootfs.tar" "$sources" >&2

podman import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV TOPO_CACHE_DIR=$cache" \
  --change 'ENV TOPO_RUN_DIR=/run/topo' \
  --change 'ENV HOME=/home/topo' \
  --change 'USER 1000:1000' \
  --change "LABEL topo.inputs=$inputs" \
  --change 'CMD ["topo", "--help"]' \
  "$work/rootfs.tar" "$content_tag" >&2
podman tag "$content_tag" "$tag"
# Older builds of this script's images go (CI would pile them up); one still used by a container stays.
for old in $(podman images --format '{{.Repository}}:{{.Tag}}' | grep -E '^localhost/topo-runner:in-[0-9a-f]{16}$' || true); do
  [ "$old" = "$content_tag" ] || podman rmi "$old" >/dev/null 2>&1 || true
done
size=$(podman image inspect --format '{{.Size}}' "$content_tag")
log "built $content_tag in $(( $(date +%s) - start )) s, $(( size / 1048576 )) MiB; tagged $tag"
echo "$tag"
