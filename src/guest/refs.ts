// Who uses which guest cache entry. A process using an entry (a lab, restarting nodes, nodes waiting for a
// boot slot, an ESP build) holds a reference file <entry>/refs/<pid>-<starttime>-<nonce>; it is live while
// /proc/<pid>/stat shows that start time, so a crashed topo never pins an entry. Entries with a live
// reference are never removed nor replaced: a rebuild goes beside them. One lock per cache root orders
// "add a reference" against "remove an entry", so neither can slip between the other's check and act.
import { randomBytes } from 'node:crypto';
import { access, mkdir, readdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { TopoError, isTopoError } from '../errors.js';
import { processStartTime } from '../host/proc-stat.js';
import { retry, WaitTimeout } from '../host/wait.js';
import { MANIFEST_FILE, findEntry, moveToTrash, type CacheEntry } from './cache.js';

const REFS_DIR = 'refs';
/** A holder killed mid-section frees the lock after this long (proper-lockfile refreshes it meanwhile). */
const LOCK_STALE_MS = 10_000;

/** Start time of a process as a string (the reference file names carry it); undefined once it has exited. */
export async function processStart(pid: number): Promise<string | undefined> {
  return (await processStartTime(pid))?.toString();
}

let selfStart: Promise<string | undefined> | undefined;

/** Whether a reference file name belongs to a process that is still running. */
export async function refIsLive(name: string): Promise<boolean> {
  const m = /^(\d+)-(\d+)-/.exec(name);
  return m !== null && (await processStart(Number(m[1]))) === m[2];
}

/** Live reference names of an entry; with `prune`, dead ones are deleted on the way. */
export async function liveRefs(dir: string, prune = false): Promise<string[]> {
  const names = await readdir(join(dir, REFS_DIR)).catch(() => [] as string[]);
  const live: string[] = [];
  for (const n of names) {
    if (await refIsLive(n)) live.push(n);
    else if (prune) await unlink(join(dir, REFS_DIR, n)).catch(() => undefined);
  }
  return live;
}

const READ_ONLY = new Set(['EACCES', 'EPERM', 'EROFS']);

/** Backoff between lock tries: 20 ms growing by 1.2 up to 500 ms. */
const lockBackoff = (attempts: number) => Math.min(500, 20 * 1.2 ** (attempts - 1));
/** Long enough to outwait a stale lock (LOCK_STALE_MS); sections themselves take milliseconds. About 60 tries. */
const LOCK_WAIT_MS = 24_000;

/** Runs `fn` holding the cache root's lock (a directory <root>/.lock, as proper-lockfile makes it). */
export async function withCacheLock<T>(root: string, fn: () => Promise<T>): Promise<T> {
  const lockOnce = () => lockfile.lock(root, { lockfilePath: join(root, '.lock'), realpath: false, stale: LOCK_STALE_MS, retries: 0, onCompromised: () => undefined });
  const code = (err: unknown) => (err as NodeJS.ErrnoException).code ?? '';
  // Retried here, not by proper-lockfile: it would retry every error, EACCES included.
  const release = await retry(lockOnce, { what: `the guest cache lock ${join(root, '.lock')}`, timeoutMs: LOCK_WAIT_MS, intervalMs: lockBackoff, retryOn: (e) => code(e) === 'ELOCKED' }).catch((err: unknown) => {
    if (err instanceof WaitTimeout) {
      throw new TopoError(`the guest cache ${root} stayed locked by another topo`, {
        code: 'E_GUEST_CACHE_LOCK',
        hint: `wait for the other topo; if none runs, remove ${join(root, '.lock')}`,
        cause: err.lastError,
      });
    }
    if (READ_ONLY.has(code(err))) {
      throw new TopoError(`the guest cache ${root} is not writable (${code(err)})`, { code: 'E_GUEST_CACHE_RO', hint: 'point TOPO_CACHE_DIR at a directory you own', cause: err });
    }
    throw err;
  });
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}

/** Drops one reference; safe to call twice. */
export type Release = () => Promise<void>;

/** Writes a reference for this process; the caller holds the lock and knows `dir` exists. */
async function writeRef(dir: string): Promise<Release> {
  selfStart ??= processStart(process.pid);
  const file = join(dir, REFS_DIR, `${process.pid}-${(await selfStart) ?? 0}-${randomBytes(4).toString('hex')}`);
  await liveRefs(dir, true);
  await mkdir(join(dir, REFS_DIR), { recursive: true });
  await writeFile(file, '');
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    await unlink(file).catch(() => undefined);
  };
}

/** References `dir` for this process; undefined when the entry was removed meanwhile (look it up again). */
export async function addRef(root: string, dir: string): Promise<Release | undefined> {
  try {
    return await withCacheLock(root, async () => {
      if (!(await access(join(dir, MANIFEST_FILE)).then(() => true, () => false))) return undefined;
      return writeRef(dir);
    });
  } catch (err) {
    // A cache this user cannot write (a shared, prebuilt one) is used as it is: this user cannot prune it either.
    const code = isTopoError(err) ? err.code : ((err as NodeJS.ErrnoException).code ?? '');
    if (code === 'E_GUEST_CACHE_RO' || READ_ONLY.has(code)) return async () => undefined;
    throw err;
  }
}

/**
 * Installs the complete entry `staged` as <root>/<key> and references it. With `reuse`, an intact entry of
 * the key (a concurrent build that won) is referenced instead. An entry already there is replaced unless it
 * is in use; then the new one goes beside it as <key>+<nonce> (lookups take the newest build).
 */
export async function publish(root: string, staged: string, key: string, opts: { reuse?: boolean } = {}): Promise<{ dir: string; release: Release; reused?: CacheEntry }> {
  let trash: string | undefined;
  const result = await withCacheLock(root, async () => {
    const reused = opts.reuse ? await findEntry(root, { key }) : undefined;
    if (reused) return { dir: reused.dir, release: await writeRef(reused.dir), reused };
    let dir = join(root, key);
    if ((await liveRefs(dir)).length > 0) dir = join(root, `${key}+${randomBytes(4).toString('hex')}`);
    else trash = await moveToTrash(root, dir);
    await rename(staged, dir);
    return { dir, release: await writeRef(dir) };
  });
  if (trash) await rm(trash, { recursive: true, force: true });
  return result;
}

/** Removes every entry but `keep` that no live process references (they are superseded, ~70 MB each). */
export async function prune(root: string, keep: string): Promise<void> {
  const trash = await withCacheLock(root, async () => {
    const moved: string[] = [];
    const names = await readdir(root, { withFileTypes: true }).catch(() => []);
    for (const dir of names.filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => join(root, d.name))) {
      if (dir === keep || (await liveRefs(dir)).length > 0) continue;
      const t = await moveToTrash(root, dir);
      if (t) moved.push(t);
    }
    return moved;
  });
  for (const t of trash) await rm(t, { recursive: true, force: true });
}
