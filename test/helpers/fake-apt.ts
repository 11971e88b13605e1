// Stand-ins for apt-cache, apt-get and dpkg-deb on PATH: the guest build runs for real, in milliseconds,
// without a network. The fake kernel package's release is linux-image-$FAKE_APT_ABI-cloud-amd64.
// FAKE_APT_GET: ok (default) | fail (the mirror is unreachable) | slow (sleeps in a child process, writing
// "<own pid> <child pid>" to $FAKE_APT_PIDFILE first).
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GUEST_MODULES, LAYER_MODULES, SHARE_MODULES } from '../../src/guest/modules.js';

const APT_CACHE = `#!/bin/sh
abi=\${FAKE_APT_ABI:-6.1.0-98}
printf 'Package: linux-image-cloud-amd64\\nVersion: %s-1\\nDepends: linux-image-%s-cloud-amd64 (= %s-1)\\n\\n' "$abi" "$abi" "$abi"
printf 'Package: busybox-static\\nVersion: 1:1.35.0-4\\n\\n'
`;

const APT_GET = `#!/bin/sh
pkg=$3
case "\${FAKE_APT_GET:-ok}" in
  fail) echo "E: Failed to fetch http://deb.debian.org/debian/pool/main/$pkg.deb  Could not connect to deb.debian.org:80" >&2; exit 100 ;;
  slow) sleep 60 & echo "$$ $!" > "$FAKE_APT_PIDFILE"; wait; exit 1 ;;
esac
echo "Get:1 $pkg" && echo "fake $pkg" > "\${pkg}_1_amd64.deb"
`;

const DPKG_DEB = `#!/bin/sh
deb=$(basename "$2")
pkg=\${deb%%_*}
if [ "$1" = -f ]; then
  case "$pkg" in busybox-static) echo 1:1.35.0-4 ;; *) echo "\${pkg#linux-image-}-1" | sed 's/-cloud-amd64//' ;; esac
  exit 0
fi
dest=$3
case "$pkg" in
  busybox-static) mkdir -p "$dest/bin" && echo busybox > "$dest/bin/busybox" ;;
  linux-image-*)
    rel=\${pkg#linux-image-}
    mods="$dest/lib/modules/$rel"
    mkdir -p "$dest/boot" "$mods/kernel"
    # More than 64 KiB, so a change past the first 64 KiB is something to detect.
    yes "kernel $rel" | head -c 131072 > "$dest/boot/vmlinuz-$rel"
    : > "$mods/modules.dep"
    for m in ${[...GUEST_MODULES, ...LAYER_MODULES, ...SHARE_MODULES].join(' ')}; do echo "module $m" > "$mods/kernel/$m.ko"; echo "kernel/$m.ko:" >> "$mods/modules.dep"; done ;;
esac
`;

/** Writes the three fakes into `dir` (created) and returns it, to put first on PATH. */
export async function fakeAptBin(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const [name, text] of [['apt-cache', APT_CACHE], ['apt-get', APT_GET], ['dpkg-deb', DPKG_DEB]] as const) {
    await writeFile(join(dir, name), text);
    await chmod(join(dir, name), 0o755);
  }
  return dir;
}
