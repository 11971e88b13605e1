// The default guest's cache: one directory per key (inputs' versions + recipe hash), published with
// an atomic rename() so readers never see a half-written entry and concurrent builds are safe (the
// first rename wins; a loser just uses the winner's entry). manifest.json records sha256 of both files.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { GuestInputs } from './packages.js';

export const MANIFEST_FORMAT = 2;
export const BZIMAGE_FILE = 'vmlinuz';
/** Uncompressed ELF kernel with a PVH entry: what microvm boots fastest. */
export const VMLINUX_FILE = 'vmlinux';
export const INITRD_FILE = 'initrd.img';
export const MANIFEST_FILE = 'manifest.json';

export interface FileRecord {
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
  /** sha256 of the first HEAD_BYTES: the cheap check done on every use. */
  readonly head: string;
}

export const HEAD_BYTES = 65536;

export interface GuestManifest {
  readonly format: number;
  readonly key: string;
  readonly recipe: string;
  readonly inputs: GuestInputs;
  /** Kernel release (the modules directory name), e.g. 6.1.0-56-cloud-amd64. */
  readonly kernelVersion: string;
  /** Versions read from the downloaded .debs. */
  readonly kernelPackageVersion: string;
  readonly busyboxVersion: string;
  readonly modules: readonly string[];
  /** The kernel to boot on microvm: vmlinux (PVH) when it could be extracted, else the bzImage. */
  readonly kernel: FileRecord;
  /** The bzImage as shipped (EFI stub: what a UKI needs). */
  readonly bzImage: FileRecord;
  readonly initrd: FileRecord;
  readonly builtAt: string;
}

/** $TOPO_CACHE_DIR, else $XDG_CACHE_HOME/topo, else ~/.cache/topo. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TOPO_CACHE_DIR) return env.TOPO_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'topo');
}

export function guestCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheRoot(env), 'guest');
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Entry directory name: changes whenever an input version or the recipe changes. */
export function cacheKey(inputs: GuestInputs, recipe: string): string {
  const id = sha256(JSON.stringify([MANIFEST_FORMAT, inputs.kernelPackage, inputs.kernelPackageVersion, inputs.busyboxVersion, recipe]));
  return `${inputs.kernelPackage.replace(/^linux-image-/, '')}-${id.slice(0, 16)}`;
}

export function fileRecord(file: string, data: Buffer): FileRecord {
  return { file, bytes: data.length, sha256: sha256(data), head: sha256(data.subarray(0, HEAD_BYTES)) };
}

async function headHash(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    return sha256(buf.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

async function fileOk(dir: string, rec: FileRecord | undefined, full: boolean): Promise<boolean> {
  if (!rec || typeof rec.file !== 'string' || rec.file.includes('/')) return false;
  const path = join(dir, rec.file);
  const st = await stat(path).catch(() => undefined);
  // The size catches truncation, the head hash a replaced or zeroed file; the full hash the rest.
  if (!st?.isFile() || st.size !== rec.bytes) return false;
  if ((await headHash(path).catch(() => '')) !== rec.head) return false;
  return !full || (await sha256File(path).catch(() => '')) === rec.sha256;
}

/**
 * The entry's manifest when the entry is intact, else undefined. `full` re-hashes every file
 * (~0.2 s for the ~70 MB); without it, sizes and the first 64 KiB are checked (~1 ms).
 */
export async function verifyEntry(dir: string, opts: { full?: boolean; key?: string; recipe?: string } = {}): Promise<GuestManifest | undefined> {
  let m: GuestManifest;
  try {
    m = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as GuestManifest;
  } catch {
    return undefined;
  }
  if (m?.format !== MANIFEST_FORMAT) return undefined;
  if (opts.key !== undefined && m.key !== opts.key) return undefined;
  if (opts.recipe !== undefined && m.recipe !== opts.recipe) return undefined;
  const full = opts.full ?? false;
  for (const rec of [m.kernel, m.initrd, m.bzImage]) if (!(await fileOk(dir, rec, full))) return undefined;
  return m;
}

/** Newest intact entry built from this recipe (the offline fallback when apt cannot resolve). */
export async function newestEntry(root: string, recipe: string): Promise<{ dir: string; manifest: GuestManifest } | undefined> {
  const names = await readdir(root).catch(() => [] as string[]);
  let best: { dir: string; manifest: GuestManifest } | undefined;
  for (const name of names.filter((n) => !n.startsWith('.'))) {
    const manifest = await verifyEntry(join(root, name), { recipe });
    if (manifest && (!best || manifest.builtAt > best.manifest.builtAt)) best = { dir: join(root, name), manifest };
  }
  return best;
}

/** Moves `dir` out of the way (rename is atomic), then deletes it. */
export async function discard(root: string, dir: string): Promise<void> {
  const trash = join(root, `.trash-${randomBytes(6).toString('hex')}`);
  try {
    await rename(dir, trash);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  await rm(trash, { recursive: true, force: true });
}

/**
 * Publishes a complete entry `staged` as `final`. When `final` exists and is intact (a concurrent build
 * won), ours is dropped; when it exists but is broken (or `replace`), it is swapped out.
 */
export async function publish(root: string, staged: string, final: string, key: string, replace = false): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await rename(staged, final);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
    if (!replace && (await verifyEntry(final, { key }))) return;
    replace = false;
    await discard(root, final);
  }
  throw new Error(`could not publish ${final}: it keeps being replaced`);
}

/** Removes leftovers of crashed builds (older than an hour, so a build in progress is never hit). */
export async function sweep(root: string): Promise<void> {
  const names = await readdir(root).catch(() => [] as string[]);
  const cutoff = Date.now() - 3_600_000;
  for (const n of names.filter((x) => x.startsWith('.tmp-') || x.startsWith('.trash-'))) {
    const st = await stat(join(root, n)).catch(() => undefined);
    if (st && st.mtimeMs < cutoff) await rm(join(root, n), { recursive: true, force: true });
  }
}
