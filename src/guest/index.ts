// The embedded default guest: Debian cloud kernel + a busybox initramfs with topo's /init and agent.
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readGuestScripts } from './initramfs.js';
import { BZIMAGE_FILE, INITRD_FILE, cacheKey, discard, guestCacheDir, newestEntry, publish, sha256, sweep, verifyEntry, type GuestManifest } from './cache.js';
import { resolveInputs, type GuestInputs } from './packages.js';
import { GUEST_MODULES } from './modules.js';
import { BUILDER_VERSION, buildEntry } from './build.js';
import { isTopoError } from '../errors.js';

export { renderGuestConfig, readyLine, isReadyLine, READY_LINE, CHANNEL_NAME, AGENT_PORT_NAME, GUEST_CONFIG_FW_CFG_NAME, GUEST_KERNEL_ARGS, type GuestConfigOptions } from './config.js';
export { AgentClient, shellQuote, type ExecResult, type ExecOptions } from './agent-client.js';
export type { GuestManifest } from './cache.js';

export { BUILDER_VERSION } from './build.js';

export interface GuestArtifacts {
  /** The kernel to pass to -kernel on microvm (uncompressed PVH vmlinux when available). */
  readonly kernel: string;
  /** The bzImage with its EFI stub (for a UKI on q35/OVMF). */
  readonly bzImage: string;
  readonly initrd: string;
  readonly kernelVersion: string;
  readonly kernelPackage: string;
  readonly kernelPackageVersion: string;
  readonly busyboxVersion: string;
  readonly recipe: string;
  readonly initrdBytes: number;
  readonly dir: string;
  /** false when this call built the entry. */
  readonly cached: boolean;
}

export interface EnsureGuestOptions {
  /** Rebuild even when the cache entry is intact. */
  readonly force?: boolean;
  /** Short progress messages (downloading, unpacking, writing initramfs) for the UI. */
  readonly onProgress?: (message: string) => void;
  /** Re-hash every file of a cached entry (~0.2 s) instead of the size + first-64-KiB check. */
  readonly fullVerify?: boolean;
}

/** Hash of everything that shapes the guest besides the package versions. */
export async function recipeHash(): Promise<string> {
  const s = await readGuestScripts();
  return sha256(Buffer.concat([Buffer.from(`topo-guest-builder ${BUILDER_VERSION}\0${GUEST_MODULES.join(',')}\0`), s.init, Buffer.from('\0'), s.agent])).slice(0, 16);
}

/** apt-cache takes ~0.5 s; its answer only changes when the package lists do, so remember it. */
async function cachedInputs(root: string): Promise<GuestInputs> {
  const memo = join(root, 'apt-inputs.json');
  const stamps = await Promise.all(['/var/lib/apt/lists', '/var/cache/apt/pkgcache.bin'].map((p) => stat(p).then((s) => s.mtimeMs, () => 0)));
  const stamp = `${stamps.join(',')}|${process.env.APT_CONFIG ?? ''}`;
  try {
    const m = JSON.parse(await readFile(memo, 'utf8')) as { stamp: string; inputs: GuestInputs };
    if (m.stamp === stamp) return m.inputs;
  } catch {
    // no memo yet
  }
  const inputs = await resolveInputs();
  // Best effort, written then renamed so a concurrent reader never parses half a file.
  const tmp = `${memo}.${process.pid}`;
  await writeFile(tmp, JSON.stringify({ stamp, inputs })).then(() => rename(tmp, memo)).catch(() => undefined);
  return inputs;
}

function artifacts(dir: string, m: GuestManifest, cached: boolean): GuestArtifacts {
  return {
    kernel: join(dir, m.kernel.file),
    bzImage: join(dir, m.bzImage.file),
    initrd: join(dir, m.initrd.file),
    kernelVersion: m.kernelVersion,
    kernelPackage: m.inputs.kernelPackage,
    kernelPackageVersion: m.kernelPackageVersion,
    busyboxVersion: m.busyboxVersion,
    recipe: m.recipe,
    initrdBytes: m.initrd.bytes,
    dir,
    cached,
  };
}

/** Returns the default guest, building it on first use (or when its inputs or recipe changed). */
export async function ensureGuest(opts: EnsureGuestOptions = {}): Promise<GuestArtifacts> {
  const progress = opts.onProgress ?? (() => {});
  const root = guestCacheDir();
  await mkdir(root, { recursive: true });
  const recipe = await recipeHash();
  let inputs: GuestInputs;
  try {
    inputs = await cachedInputs(root);
  } catch (err) {
    // Offline or without package lists: an intact entry of the same recipe still serves.
    const fallback = !opts.force && isTopoError(err) ? await newestEntry(root, recipe) : undefined;
    if (fallback) return artifacts(fallback.dir, fallback.manifest, true);
    throw err;
  }
  const key = cacheKey(inputs, recipe);
  const final = join(root, key);
  if (!opts.force) {
    const m = await verifyEntry(final, { key, full: opts.fullVerify });
    if (m) return artifacts(final, m, true);
  }

  await sweep(root);
  const tmp = await mkdtemp(join(root, `.tmp-${key}-`));
  try {
    const entry = await buildEntry(tmp, inputs, key, recipe, progress);
    await publish(root, entry, final, key, opts.force);
    const winner = await verifyEntry(final, { key });
    if (!winner) throw new Error(`guest cache entry ${final} vanished right after it was published`);
    await pruneOthers(root, key);
    return artifacts(final, winner, false);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Entries of other keys are superseded (~70 MB each); QEMU has its own copy once booted. */
async function pruneOthers(root: string, key: string): Promise<void> {
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (name === key || name.startsWith('.') || name === 'apt-inputs.json') continue;
    await discard(root, join(root, name)).catch(() => undefined);
  }
}

export type GuestInfo = Omit<GuestArtifacts, 'initrdBytes'> & {
  /** null until built. */
  readonly initrdBytes: number | null;
};

/** Where the default guest is (or would be) and what it is built from; never builds. */
export async function guestInfo(): Promise<GuestInfo> {
  const root = guestCacheDir();
  const recipe = await recipeHash();
  let inputs: GuestInputs;
  try {
    inputs = await cachedInputs(root);
  } catch (err) {
    const fallback = isTopoError(err) ? await newestEntry(root, recipe) : undefined;
    if (fallback) return { ...artifacts(fallback.dir, fallback.manifest, true) };
    throw err;
  }
  const dir = join(root, cacheKey(inputs, recipe));
  const m = await verifyEntry(dir);
  if (m) return artifacts(dir, m, true);
  return {
    kernel: join(dir, BZIMAGE_FILE),
    bzImage: join(dir, BZIMAGE_FILE),
    initrd: join(dir, INITRD_FILE),
    kernelVersion: inputs.kernelPackage.replace(/^linux-image-/, ''),
    kernelPackage: inputs.kernelPackage,
    kernelPackageVersion: inputs.kernelPackageVersion,
    busyboxVersion: inputs.busyboxVersion,
    recipe,
    initrdBytes: null,
    cached: false,
    dir,
  };
}

