// Package layers: one read-only erofs image per resolved package set (exact versions), cached under
// <cache>/layers/<key>, published atomically and referenced while in use like the default guest (refs.ts).
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TopoError, isTopoError } from '../errors.js';
import { ADDED_PACKAGES, UnknownPackageError, resolveClosure, type ResolvedPackage } from './apt-closure.js';
import { MANIFEST_FILE, cacheRoot, fileRecord, moveToTrash, sha256, sweep, xxh64File, type FileRecord } from './cache.js';
import { LAYER_IMAGE, buildLayerImage } from './layer-build.js';
import type { RuntimeDir } from './layer-users.js';
import { checkAborted } from './packages.js';
import { addRef, liveRefs, publish, withCacheLock, type Release } from './refs.js';

/** Bump when the same packages would give a different image. */
export const LAYER_FORMAT = 3;

export interface LayerManifest {
  readonly format: number;
  readonly kind: 'topo-layer';
  readonly key: string;
  /** The package list as written (sorted, once each), without ADDED_PACKAGES. */
  readonly request: readonly string[];
  /** The whole set with exact versions, by name. */
  readonly packages: readonly ResolvedPackage[];
  readonly added: readonly string[];
  readonly image: FileRecord;
  readonly users: readonly string[];
  readonly groups: readonly string[];
  readonly dirs: readonly RuntimeDir[];
  readonly builtAt: string;
}

export interface LayerHandle {
  readonly image: string;
  readonly dir: string;
  readonly manifest: LayerManifest;
  readonly cached: boolean;
  release(): Promise<void>;
}

/** $TOPO_LAYER_DIR, else <cache>/layers: a runner pod builds layers in a writable dir beside its read-only guest cache. */
export function layersRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.TOPO_LAYER_DIR || join(cacheRoot(env), 'layers');
}

export function normaliseRequest(specs: readonly string[]): string[] {
  return [...new Set(specs)].sort();
}

export function layerKey(pkgs: readonly ResolvedPackage[]): string {
  return sha256(JSON.stringify([LAYER_FORMAT, pkgs.map((p) => `${p.name}=${p.version}`)])).slice(0, 20);
}

async function readLayerManifest(dir: string): Promise<LayerManifest | undefined> {
  try {
    const m = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as LayerManifest;
    return m?.kind === 'topo-layer' && m.format === LAYER_FORMAT ? m : undefined;
  } catch {
    return undefined;
  }
}

/** Cached layers with a readable manifest, newest first (images not verified). */
export async function listLayers(root = layersRoot()): Promise<{ dir: string; manifest: LayerManifest }[]> {
  const names = await readdir(root, { withFileTypes: true }).catch(() => []);
  const out: { dir: string; manifest: LayerManifest }[] = [];
  for (const d of names.filter((n) => n.isDirectory() && !n.name.startsWith('.'))) {
    const manifest = await readLayerManifest(join(root, d.name));
    if (manifest) out.push({ dir: join(root, d.name), manifest });
  }
  return out.sort((a, b) => (a.manifest.builtAt < b.manifest.builtAt ? 1 : -1));
}

async function intact(dir: string, m: LayerManifest): Promise<boolean> {
  const file = join(dir, m.image.file);
  const st = await stat(file).catch(() => undefined);
  return st?.isFile() === true && st.size === m.image.bytes && (await xxh64File(file).catch(() => '')) === m.image.xxh64;
}

async function useLayer(root: string, want: (m: LayerManifest) => boolean): Promise<LayerHandle | undefined> {
  for (const e of await listLayers(root)) {
    if (!want(e.manifest) || !(await intact(e.dir, e.manifest))) continue;
    const release = await addRef(root, e.dir);
    if (release) return { image: join(e.dir, e.manifest.image.file), dir: e.dir, manifest: e.manifest, cached: true, release };
  }
  return undefined;
}

/** apt-get -s takes ~2 s; its answer only changes with the package lists. */
async function cachedClosure(root: string, request: readonly string[], signal?: AbortSignal): Promise<ResolvedPackage[]> {
  const memo = join(root, `resolved-${sha256(JSON.stringify([request, ADDED_PACKAGES])).slice(0, 16)}.json`);
  const stamps = await Promise.all(['/var/lib/apt/lists', '/var/cache/apt/pkgcache.bin'].map((p) => stat(p).then((s) => s.mtimeMs, () => 0)));
  const stamp = `${stamps.join(',')}|${process.env.APT_CONFIG ?? ''}`;
  try {
    const m = JSON.parse(await readFile(memo, 'utf8')) as { stamp: string; packages: ResolvedPackage[] };
    if (m.stamp === stamp) return m.packages;
  } catch {
    // none yet
  }
  const packages = await resolveClosure(request, signal);
  const tmp = `${memo}.${process.pid}`;
  await writeFile(tmp, JSON.stringify({ stamp, packages })).then(() => rename(tmp, memo)).catch(() => undefined);
  return packages;
}

export interface EnsureLayerOptions {
  readonly onProgress?: (m: string) => void;
  readonly onNotice?: (m: string) => void;
  readonly signal?: AbortSignal;
}

/**
 * The layer of `specs`, built on first use and referenced until release(). An unknown package throws
 * UnknownPackageError; when apt cannot resolve or download, a cached layer of the same list serves (notice).
 */
export async function ensureLayer(specs: readonly string[], opts: EnsureLayerOptions = {}): Promise<LayerHandle> {
  const { signal } = opts;
  const progress = opts.onProgress ?? (() => {});
  const notice = opts.onNotice ?? progress;
  const root = layersRoot();
  await mkdir(root, { recursive: true });
  const request = normaliseRequest(specs);
  const fallBack = async (err: unknown): Promise<LayerHandle> => {
    if (!isTopoError(err) || err.code === 'E_ABORTED' || err instanceof UnknownPackageError) throw err;
    const older = await useLayer(root, (m) => JSON.stringify(m.request) === JSON.stringify(request));
    if (!older) throw err;
    notice(`${err.message}; using the cached layer of ${request.join(' ')} built ${older.manifest.builtAt.slice(0, 10)}`);
    return older;
  };
  let pkgs: ResolvedPackage[];
  try {
    pkgs = await cachedClosure(root, request, signal);
  } catch (err) {
    return fallBack(err);
  }
  const key = layerKey(pkgs);
  const found = await useLayer(root, (m) => m.key === key);
  if (found) return found;
  try {
    return await build(root, key, request, pkgs, progress, signal);
  } catch (err) {
    return fallBack(err);
  }
}

/** `name=version` of each package, as apt and bundles write them. */
export const pinText = (pkgs: readonly ResolvedPackage[]): string[] => pkgs.map((p) => `${p.name}=${p.version}`);

/** "Version 'V' for 'N' was not found" and "Can't find a source to download version 'V' of 'N:arch'" lines. */
export function unavailable(stderr: string): string[] {
  const out: string[] = [];
  for (const m of stderr.matchAll(/Version '([^']+)' for '([^':]+)(?::\w+)?' was not found|version '([^']+)' of '([^':]+)(?::\w+)?'/g)) out.push(`${m[2] ?? m[4]}=${m[1] ?? m[3]}`);
  return [...new Set(out)];
}

/**
 * The layer of exactly `pkgs` (a bundle's recorded versions): the cached one with their key, else built from
 * those versions (apt-get download NAME=VERSION). Nothing is resolved again and no other versions serve.
 */
export async function ensurePinnedLayer(specs: readonly string[], pkgs: readonly ResolvedPackage[], opts: EnsureLayerOptions = {}): Promise<LayerHandle> {
  const root = layersRoot();
  await mkdir(root, { recursive: true });
  const key = layerKey(pkgs);
  const found = await useLayer(root, (m) => m.key === key);
  if (found) return found;
  const request = normaliseRequest(specs);
  try {
    return await build(root, key, request, [...pkgs], (m) => (opts.onProgress ?? (() => {}))(m), opts.signal, false);
  } catch (err) {
    if (!isTopoError(err) || err.code !== 'E_PACKAGE_DOWNLOAD') throw err;
    const missing = unavailable(err.stderrTail ?? '');
    const named = missing.length > 0 ? missing : pinText(pkgs);
    throw new TopoError(`cannot get the exact package versions this bundle recorded: ${named.join(' ')}`, {
      code: 'E_PACKAGE_PINNED',
      hint: 'the host\'s apt must offer these versions (add the snapshot mirror of that date to its sources), or run the scenario itself instead of the bundle',
      stderrTail: err.stderrTail,
      stderrSource: 'apt-get',
      cause: err,
    });
  }
}

/** The cached layer a lab of `specs` uses now (exact versions first, else the newest of the same list), unreferenced. */
export async function currentLayer(specs: readonly string[]): Promise<LayerManifest | undefined> {
  const root = layersRoot();
  const request = normaliseRequest(specs);
  const pkgs = await cachedClosure(root, request).catch(() => undefined);
  const layers = await listLayers(root);
  const key = pkgs ? layerKey(pkgs) : undefined;
  return (layers.find((l) => l.manifest.key === key) ?? layers.find((l) => JSON.stringify(l.manifest.request) === JSON.stringify(request)))?.manifest;
}

async function build(root: string, key: string, request: string[], pkgs: ResolvedPackage[], progress: (m: string) => void, signal?: AbortSignal, prune = true): Promise<LayerHandle> {
  await sweep(root);
  const tmp = await mkdtemp(join(root, `.tmp-${key}-`));
  try {
    const built = await buildLayerImage(tmp, request, pkgs, (m) => progress(`packages: ${m}`), signal);
    checkAborted(signal);
    const entry = join(tmp, 'entry');
    await mkdir(entry);
    await rename(built.image, join(entry, LAYER_IMAGE));
    const manifest: LayerManifest = {
      format: LAYER_FORMAT,
      kind: 'topo-layer',
      key,
      request,
      packages: pkgs,
      added: [...ADDED_PACKAGES],
      image: await fileRecord(LAYER_IMAGE, await readFile(join(entry, LAYER_IMAGE))),
      users: built.users,
      groups: built.groups,
      dirs: built.dirs,
      builtAt: new Date().toISOString(),
    };
    await writeFile(join(entry, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    const { dir, release } = await publish(root, entry, key);
    // A replay's older versions never push out the list's current layer.
    if (prune) await pruneSuperseded(root, dir, request);
    return { image: join(dir, LAYER_IMAGE), dir, manifest, cached: false, release: release as Release };
  } catch (err) {
    if (isTopoError(err)) throw err;
    throw new TopoError(`cannot build the layer of ${request.join(' ')}: ${(err as Error).message}`, { code: 'E_LAYER_BUILD', cause: err });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Removes older layers of the same package list that no live process references (as the guest cache prunes). */
export async function pruneSuperseded(root: string, keep: string, request: readonly string[]): Promise<void> {
  const same = JSON.stringify(request);
  const trash = await withCacheLock(root, async () => {
    const moved: string[] = [];
    for (const e of await listLayers(root)) {
      if (e.dir === keep || JSON.stringify(e.manifest.request) !== same || (await liveRefs(e.dir)).length > 0) continue;
      const t = await moveToTrash(root, e.dir);
      if (t) moved.push(t);
    }
    return moved;
  });
  for (const t of trash) await rm(t, { recursive: true, force: true });
}
