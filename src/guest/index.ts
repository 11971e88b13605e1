// The embedded default guest: Debian cloud kernel + a busybox initramfs with topo's /init and agent.
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readGuestScripts } from './initramfs.js';
import { BZIMAGE_FILE, INITRD_FILE, cacheKey, findEntry, guestCacheDir, newestEntry, readManifest, sha256, sweep, type CacheEntry, type GuestManifest } from './cache.js';
import { checkAborted, resolveInputs, type GuestInputs } from './packages.js';
import { GUEST_MODULES, LAYER_MODULES, SHARE_MODULES } from './modules.js';
import { BUILDER_VERSION, buildEntry } from './build.js';
import { addRef, prune, publish, type Release } from './refs.js';
import { TopoError, isTopoError } from '../errors.js';

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

/** A default guest this process uses: its cache entry is neither pruned nor replaced until released. */
export interface GuestHandle extends GuestArtifacts {
  /** Drops the reference (safe to call twice); a process that exits drops it anyway. */
  release(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface EnsureGuestOptions {
  /** Build a new entry even when one is intact (beside it when it is in use). */
  readonly force?: boolean;
  /** Short progress messages (downloading, unpacking, writing initramfs) for the UI. */
  readonly onProgress?: (message: string) => void;
  /** One-line notices, e.g. falling back to an older entry when the download fails (default: onProgress). */
  readonly onNotice?: (message: string) => void;
  /** Aborting kills the build's apt-get/dpkg-deb, removes its temp directory and rejects with E_ABORTED. */
  readonly signal?: AbortSignal;
}

/** Hash of everything that shapes the guest besides the package versions. */
export async function recipeHash(): Promise<string> {
  const s = await readGuestScripts();
  return sha256(Buffer.concat([Buffer.from(`topo-guest-builder ${BUILDER_VERSION}\0${GUEST_MODULES.join(',')}\0${LAYER_MODULES.join(',')}\0${SHARE_MODULES.join(',')}\0`), s.init, Buffer.from('\0'), s.agent])).slice(0, 16);
}

/** apt-cache takes ~0.5 s; its answer only changes when the package lists do, so remember it. */
async function cachedInputs(root: string, signal?: AbortSignal): Promise<GuestInputs> {
  const memo = join(root, 'apt-inputs.json');
  const stamps = await Promise.all(['/var/lib/apt/lists', '/var/cache/apt/pkgcache.bin'].map((p) => stat(p).then((s) => s.mtimeMs, () => 0)));
  const stamp = `${stamps.join(',')}|${process.env.APT_CONFIG ?? ''}`;
  try {
    const m = JSON.parse(await readFile(memo, 'utf8')) as { stamp: string; inputs: GuestInputs };
    if (m.stamp === stamp) return m.inputs;
  } catch {
    // no memo yet
  }
  const inputs = await resolveInputs(signal);
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

function handle(dir: string, m: GuestManifest, cached: boolean, release: Release): GuestHandle {
  return { ...artifacts(dir, m, cached), release, [Symbol.asyncDispose]: release };
}

/** References an entry found by `lookup`, looking again if it was pruned between the two steps. */
async function use(root: string, lookup: () => Promise<CacheEntry | undefined>): Promise<GuestHandle | undefined> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const found = await lookup();
    if (!found) return undefined;
    const release = await addRef(root, found.dir);
    if (release) return handle(found.dir, found.manifest, true, release);
  }
  return undefined;
}

/**
 * Returns the default guest, building it on first use (or when its inputs or recipe changed), and
 * references its cache entry until `release()`. When apt cannot resolve or download the new inputs, the
 * newest intact entry of the same recipe serves, with a notice.
 */
export async function ensureGuest(opts: EnsureGuestOptions = {}): Promise<GuestHandle> {
  const { signal } = opts;
  const progress = opts.onProgress ?? (() => {});
  const notice = opts.onNotice ?? progress;
  checkAborted(signal);
  const root = guestCacheDir();
  await mkdir(root, { recursive: true });
  const recipe = await recipeHash();
  const fallBack = async (err: unknown): Promise<GuestHandle> => {
    if (opts.force || !isTopoError(err) || err.code === 'E_ABORTED') throw err;
    let builtAt = '';
    const older = await use(root, async () => {
      const e = await newestEntry(root, recipe);
      builtAt = e?.manifest.builtAt ?? '';
      return e;
    });
    if (!older) throw err;
    notice(`${err.message}; using the cached default guest built ${builtAt.slice(0, 10)} (kernel ${older.kernelVersion})`);
    return older;
  };
  let inputs: GuestInputs;
  try {
    inputs = await cachedInputs(root, signal);
  } catch (err) {
    return fallBack(err);
  }
  const key = cacheKey(inputs, recipe);
  if (!opts.force) {
    const intact = await use(root, () => findEntry(root, { key }));
    if (intact) return intact;
  }
  try {
    return await build(root, inputs, key, recipe, opts);
  } catch (err) {
    return fallBack(err);
  }
}

async function build(root: string, inputs: GuestInputs, key: string, recipe: string, opts: EnsureGuestOptions): Promise<GuestHandle> {
  await sweep(root);
  const tmp = await mkdtemp(join(root, `.tmp-${key}-`));
  try {
    const entry = await buildEntry(tmp, inputs, key, recipe, opts.onProgress ?? (() => {}), opts.signal);
    checkAborted(opts.signal);
    const manifest = await readManifest(entry);
    if (!manifest) throw new TopoError(`the guest build in ${entry} wrote no manifest`, { code: 'E_GUEST_BUILD' });
    // Without --force, a concurrent build that published first wins: ours is dropped with tmp.
    const { dir, release, reused } = await publish(root, entry, key, { reuse: !opts.force });
    if (reused) return handle(dir, reused.manifest, true, release);
    await prune(root, dir);
    return handle(dir, manifest, false, release);
  } finally {
    await rm(tmp, { recursive: true, force: true });
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
    if (fallback) return artifacts(fallback.dir, fallback.manifest, true);
    throw err;
  }
  const key = cacheKey(inputs, recipe);
  const found = await findEntry(root, { key });
  if (found) return artifacts(found.dir, found.manifest, true);
  const dir = join(root, key);
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

