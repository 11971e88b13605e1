#!/usr/bin/env bash
# Idempotent setup for a fresh Debian machine: the Debian packages topo needs, npm dependencies, the build.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(qemu-system-x86 busybox-static swtpm swtpm-tools ovmf mtools systemd-boot-efi binutils cpio util-linux iproute2)
# unix-socketpair is a native addon: npm ci builds it with node-gyp, which needs python3, make and a C++ compiler.
pkgs+=(python3 make g++)
# The capture tests check that tcpdump reads topo's pcap and pcapng streams.
pkgs+=(tcpdump)
# qemu-img: a replayed bundle's qcow2 disks are inspected (backing chain, data file) before QEMU opens them.
pkgs+=(qemu-utils)
# The `topo web` end-to-end test drives the page in Debian's chromium (puppeteer-core, no browser download).
pkgs+=(chromium)
# packages: layers are erofs images (mkfs.erofs).
pkgs+=(erofs-utils)
# shares: virtiofsd (qemu-system-common, pulled in by qemu-system-x86) confined by bwrap.
pkgs+=(qemu-system-common bubblewrap)
# The Kubernetes tests: podman kube play (rootful, runc: crun fails on this cgroup setup) and the runner image
# built without a registry (scripts/runner-image.sh: mmdebstrap rootfs, podman import).
pkgs+=(podman crun runc containernetworking-plugins slirp4netns uidmap catatonit fuse-overlayfs mmdebstrap)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# The default guest is built from Debian packages fetched with apt-get download: package lists must exist.
has_lists() { apt-cache policy linux-image-cloud-amd64 2>/dev/null | grep -q 'Candidate: [0-9]'; }

if [ ${#missing[@]} -gt 0 ] || ! has_lists; then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]:-package lists}" >&2; exit 1; }
    sudo=(sudo)
  fi
  echo "setup: apt-get update${missing[*]:+ && apt-get install ${missing[*]}}"
  "${sudo[@]}" apt-get update -qq
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi

# npm ci only when the lockfile changed since the last install (it also runs the build through `prepare`).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm run --silent build
fi
