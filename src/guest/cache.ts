// The default guest's cache: one directory per key (inputs' versions + recipe hash), published with an
// atomic rename() so readers never see a half-written entry (refs.ts: publishing, references, pruning).
// manifest.json records checksums of every file a lab boots from; each use re-hashes them whole.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import xxhash, { type XXHashAPI } from 'xxhash-wasm';
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
  /** sha256 of the whole file (checked on use by entries built before xxh64 was recorded). */
  readonly sha256: string;
  /** xxHash64 of the whole file, checked on every use: ~4x cheaper than sha256 (~50 ms for the ~70 MB). */
  readonly xxh64?: string;
}

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
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Entry directory name: changes whenever an input version or the recipe changes. */
export function cacheKey(inputs: GuestInputs, recipe: string): string {
  const id = sha256(JSON.stringify([MANIFEST_FORMAT, inputs.kernelPackage, inputs.kernelPackageVersion, inputs.busyboxVersion, recipe]));
  return `${inputs.kernelPackage.replace(/^linux-image-/, '')}-${id.slice(0, 16)}`;
}

let xxhashApi: Promise<XXHashAPI> | undefined;
const CHUNK = 1 << 20;

async function xxh64Of(chunks: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<string> {
  const h = (await (xxhashApi ??= xxhash())).create64();
  for await (const chunk of chunks) h.update(chunk);
  return h.digest().toString(16).padStart(16, '0');
}

/** xxHash64 (hex) of a file, streamed in 1 MiB chunks. */
export function xxh64File(path: string): Promise<string> {
  return xxh64Of(createReadStream(path, { highWaterMark: CHUNK }) as AsyncIterable<Buffer>);
}

function* slices(data: Buffer): Iterable<Buffer> {
  // Slices keep the hasher's WebAssembly memory small (it grows to the largest input and never shrinks).
  for (let at = 0; at < data.length; at += CHUNK) yield data.subarray(at, at + CHUNK);
}

export async function fileRecord(file: string, data: Buffer): Promise<FileRecord> {
  return { file, bytes: data.length, sha256: sha256(data), xxh64: await xxh64Of(slices(data)) };
}

async function fileOk(dir: string, rec: FileRecord | undefined): Promise<boolean> {
  if (!rec || typeof rec.file !== 'string' || rec.file.includes('/')) return false;
  const path = join(dir, rec.file);
  const st = await stat(path).catch(() => undefined);
  if (!st?.isFile() || st.size !== rec.bytes) return false;
  if (rec.xxh64) return (await xxh64File(path).catch(() => '')) === rec.xxh64;
  return (await sha256File(path).catch(() => '')) === rec.sha256;
}

export async function readManifest(dir: string): Promise<GuestManifest | undefined> {
  try {
    const m = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as GuestManifest;
    return m?.format === MANIFEST_FORMAT ? m : undefined;
  } catch {
    return undefined;
  }
}

/** The entry's manifest when every file it boots from (kernel, bzImage, initrd) hashes to what the build recorded. */
export async function verifyEntry(dir: string, opts: { key?: string; recipe?: string } = {}): Promise<GuestManifest | undefined> {
  const m = await readManifest(dir);
  if (!m) return undefined;
  if (opts.key !== undefined && m.key !== opts.key) return undefined;
  if (opts.recipe !== undefined && m.recipe !== opts.recipe) return undefined;
  const ok = await Promise.all([m.kernel, m.initrd, m.bzImage].map((rec) => fileOk(dir, rec)));
  return ok.every(Boolean) ? m : undefined;
}

export interface CacheEntry {
  readonly dir: string;
  readonly manifest: GuestManifest;
}

/** Entry directories with a readable manifest, newest build first (nothing verified yet). */
export async function listEntries(root: string): Promise<CacheEntry[]> {
  const names = await readdir(root, { withFileTypes: true }).catch(() => []);
  const found: CacheEntry[] = [];
  for (const d of names.filter((n) => n.isDirectory() && !n.name.startsWith('.'))) {
    const manifest = await readManifest(join(root, d.name));
    if (manifest) found.push({ dir: join(root, d.name), manifest });
  }
  return found.sort((a, b) => (a.manifest.builtAt < b.manifest.builtAt ? 1 : a.manifest.builtAt > b.manifest.builtAt ? -1 : 0));
}

/** Newest intact entry matching key and/or recipe (an entry may have been rebuilt beside one in use). */
export async function findEntry(root: string, want: { key?: string; recipe?: string }): Promise<CacheEntry | undefined> {
  for (const e of await listEntries(root)) {
    if (want.key !== undefined && e.manifest.key !== want.key) continue;
    if (want.recipe !== undefined && e.manifest.recipe !== want.recipe) continue;
    const manifest = await verifyEntry(e.dir, want);
    if (manifest) return { dir: e.dir, manifest };
  }
  return undefined;
}

/** Newest intact entry built from this recipe (the offline fallback when apt cannot resolve or download). */
export function newestEntry(root: string, recipe: string): Promise<CacheEntry | undefined> {
  return findEntry(root, { recipe });
}

/** Renames `dir` to a .trash- name (atomic: it leaves its path at once); returns that name, or undefined when `dir` is gone. */
export async function moveToTrash(root: string, dir: string): Promise<string | undefined> {
  const trash = join(root, `.trash-${randomBytes(6).toString('hex')}`);
  try {
    await rename(dir, trash);
    return trash;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
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
