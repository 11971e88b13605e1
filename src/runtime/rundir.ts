// Private run directory per lab. It appears (by rename) already holding owner.json, the lab's lock: pid plus process
// start time and boot id, so a lock whose holder died (or whose pid was reused) is recognised as stale.
import { constants } from 'node:fs';
import { lstat, mkdtemp, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TopoError } from '../errors.js';
import { processStartTime } from '../host/proc-stat.js';
import { checkPrivateDir, createDirExclusive, createFileExclusive, openAppendFd, secureDir, type DirPolicy } from '../host/safe-fs.js';
import type { MachineFiles } from '../machine/files.js';

export const OWNER_FILE = 'owner.json';
/** Present in a run directory taken with keep: the next `up` moves it aside instead of deleting it. */
export const KEPT_FILE = 'kept';

export interface LabOwner {
  pid: number;
  /** Clock ticks after boot (/proc/<pid>/stat field 22): with the pid, names one process. */
  startTime: number;
}

export interface RunDir extends MachineFiles {
  readonly lab: string;
  readonly path: string;
  /** One line for the user when a kept run directory of an earlier run was moved aside. */
  readonly notice?: string;
  /** Remove the directory (and with it the lock). */
  remove(): Promise<void>;
  /** Done with the lab: remove, or with keep leave the files (marked kept) and drop the lock. */
  release(): Promise<void>;
}

export interface AcquireOptions {
  /** Keep the files after release, and have the next `up` move them aside rather than delete them. */
  keep?: boolean;
}

const BASE_POLICY: DirPolicy = {
  what: 'run directory base',
  choose: 'set --run-dir or TOPO_RUN_DIR to a directory of your own',
  code: 'E_RUNDIR_UNSAFE',
  mode: 0o700,
};

export function runBase(override?: string): string {
  if (override) return path.resolve(override);
  if (process.env.TOPO_RUN_DIR) return path.resolve(process.env.TOPO_RUN_DIR);
  const xdg = process.env.XDG_RUNTIME_DIR;
  return xdg ? path.join(xdg, 'topo') : path.join(os.tmpdir(), `topo-${process.getuid?.() ?? 'user'}`);
}

/** Create (0700) or check the base: ours, private, not a symlink, through directories no other user controls. */
export async function prepareBase(base: string): Promise<string> {
  const abs = path.resolve(base);
  const st = await lstat(abs).catch(() => undefined);
  if (st?.isSymbolicLink()) await checkPrivateDir(abs, BASE_POLICY);
  const real = await secureDir(abs, BASE_POLICY);
  await checkPrivateDir(real, BASE_POLICY);
  return real;
}

/**
 * The base for commands that only look under it (ps, down, exec, ...): the same trust check as `up`, but never
 * created; undefined when it does not exist (then there are no labs).
 */
export async function existingBase(base: string): Promise<string | undefined> {
  const abs = path.resolve(base);
  if (!(await lstat(abs).catch(() => undefined))) return undefined;
  return prepareBase(abs);
}

/**
 * Why `dir` is not provably a run directory of this user, if it is not: a real directory (not a link) of ours, holding
 * our own owner record or kept marker as a regular file, and nothing that another user owns.
 */
export async function notOurRunDir(dir: string): Promise<string | undefined> {
  const uid = process.getuid?.() ?? 0;
  const st = await lstat(dir).catch(() => undefined);
  if (!st) return 'it does not exist';
  if (st.isSymbolicLink() || !st.isDirectory()) return st.isSymbolicLink() ? 'it is a symbolic link' : 'it is not a directory';
  if (st.uid !== uid) return `it is owned by uid ${st.uid}, not by you (uid ${uid})`;
  const marks = await Promise.all([OWNER_FILE, KEPT_FILE].map((f) => lstat(path.join(dir, f)).catch(() => undefined)));
  if (!marks.some((m) => m?.isFile() && m.uid === uid)) return `it holds no ${OWNER_FILE} or ${KEPT_FILE} of yours`;
  for (const name of await readdir(dir)) {
    const entry = await lstat(path.join(dir, name)).catch(() => undefined);
    if (entry && entry.uid !== uid) return `${name} in it is owned by uid ${entry.uid}`;
  }
  return undefined;
}

export async function acquireRunDir(lab: string, base = runBase(), opts: AcquireOptions = {}): Promise<RunDir> {
  const realBase = await prepareBase(base);
  const dir = path.join(realBase, lab);
  return withRunDirErrors(dir, async () => {
    let notice: string | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      const staged = await stage(realBase, lab, opts.keep ?? false);
      try {
        await rename(staged, dir);
        return makeRunDir(lab, dir, opts.keep ?? false, notice);
      } catch (err) {
        await rm(staged, { recursive: true, force: true });
        if (!['ENOTEMPTY', 'EEXIST', 'ENOTDIR', 'EISDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
      }
      const owner = await labOwner(dir);
      if (owner) throw running(lab, dir, owner);
      notice = (await clearStale(realBase, lab, dir)) ?? notice;
    }
    throw new TopoError(`cannot take the run directory ${dir}: it keeps reappearing`, {
      code: 'E_RUNDIR',
      hint: `another program is creating ${dir}; stop it, or rename this lab with \`name:\``,
    });
  });
}

/** The live process holding a lab's run directory, if any: a lock whose holder died (or a reused pid) is none. */
export async function labOwner(dir: string): Promise<LabOwner | undefined> {
  const record = await readOwner(dir);
  if (!record) return undefined;
  if (record.bootId !== undefined && record.bootId !== (await bootId())) return undefined;
  return (await processStartTime(record.pid)) === record.startTime ? { pid: record.pid, startTime: record.startTime } : undefined;
}

function bootId(): Promise<string | undefined> {
  return readFile('/proc/sys/kernel/random/boot_id', 'utf8').then((s) => s.trim(), () => undefined);
}

/** A fresh directory holding the owner record (and the kept marker), renamed into place in one step. */
async function stage(base: string, lab: string, keep: boolean): Promise<string> {
  const staged = await mkdtemp(path.join(base, `.${lab}.new-`));
  const startTime = await processStartTime(process.pid);
  if (startTime === undefined) throw new TopoError('cannot read /proc/self/stat (needed for the lab lock)', { code: 'E_RUNDIR', hint: 'mount /proc' });
  await createFileExclusive(path.join(staged, OWNER_FILE), `${JSON.stringify({ pid: process.pid, startTime, bootId: await bootId() })}\n`);
  if (keep) await createFileExclusive(path.join(staged, KEPT_FILE), `${new Date().toISOString()}\n`);
  return staged;
}

async function readOwner(dir: string): Promise<{ pid: number; startTime: number; bootId?: string } | undefined> {
  try {
    const fh = await open(path.join(dir, OWNER_FILE), constants.O_RDONLY | constants.O_NOFOLLOW);
    const text = await fh.readFile('utf8').finally(() => fh.close());
    const rec = JSON.parse(text) as { pid?: unknown; startTime?: unknown; bootId?: unknown };
    if (!Number.isSafeInteger(rec.pid) || !Number.isSafeInteger(rec.startTime)) return undefined;
    return { pid: rec.pid as number, startTime: rec.startTime as number, bootId: typeof rec.bootId === 'string' ? rec.bootId : undefined };
  } catch {
    return undefined; // no record, or not one topo wrote: nobody holds the lock
  }
}

/** Move a stale run directory out of the way: kept ones to `<lab>.kept-<time>`, the rest deleted. */
async function clearStale(base: string, lab: string, dir: string): Promise<string | undefined> {
  const st = await lstat(dir).catch(() => undefined);
  if (!st) return undefined;
  if (st.isSymbolicLink() || !st.isDirectory()) {
    throw new TopoError(`run directory ${dir} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}`, { code: 'E_RUNDIR_UNSAFE', hint: `remove it (rm ${dir})` });
  }
  const aside = await mkdtemp(path.join(base, `.${lab}.stale-`));
  await rename(dir, aside).catch(async (err: NodeJS.ErrnoException) => {
    await rm(aside, { recursive: true, force: true });
    if (err.code !== 'ENOENT') throw err;
  });
  // Another `up` may have taken the lab between our look and the rename: give it back.
  const owner = await labOwner(aside);
  if (owner) {
    await rename(aside, dir).catch(() => undefined);
    throw running(lab, dir, owner);
  }
  const kept = await stat(path.join(aside, KEPT_FILE)).catch(() => undefined);
  if (!kept) {
    await rm(aside, { recursive: true, force: true });
    return undefined;
  }
  const dest = await freeName(base, `${lab}.kept-${kept.mtime.toISOString().replace(/[-:]|\.\d+/g, '')}`);
  await rename(aside, dest);
  return `the kept run directory of an earlier run of lab "${lab}" was moved to ${dest}`;
}

async function freeName(base: string, name: string): Promise<string> {
  for (let n = 1; n < 100; n++) {
    const candidate = path.join(base, n === 1 ? name : `${name}-${n}`);
    if (!(await lstat(candidate).catch(() => undefined))) return candidate;
  }
  throw new TopoError(`too many kept run directories named ${path.join(base, name)}*`, { code: 'E_RUNDIR', hint: `delete old ones in ${base}` });
}

function running(lab: string, dir: string, owner: LabOwner): TopoError {
  return new TopoError(`lab "${lab}" is already running (topo pid ${owner.pid}, run directory ${dir})`, {
    code: 'E_LAB_RUNNING',
    hint: `stop that \`topo up\` first (Ctrl-C in its terminal, or kill ${owner.pid}), or rename this lab with \`name:\``,
  });
}

function makeRunDir(lab: string, dir: string, keep: boolean, notice: string | undefined): RunDir {
  const file = (name: string) => path.join(dir, name);
  const remove = () => withRunDirErrors(dir, () => rm(dir, { recursive: true, force: true }));
  return {
    lab,
    path: dir,
    notice,
    file,
    createFile: async (name, data, mode = 0o600) => {
      await createFileExclusive(file(name), data, mode);
      return file(name);
    },
    createDir: async (name) => {
      await createDirExclusive(file(name));
      return file(name);
    },
    openLogFd: (name) => openAppendFd(file(name)),
    remove,
    release: () => (keep ? withRunDirErrors(dir, () => unlink(file(OWNER_FILE)).catch(() => undefined)) : remove()),
  };
}

/** Every failure here is one line naming the path, never a raw errno. */
async function withRunDirErrors<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof TopoError) throw err;
    throw new TopoError(`run directory ${dir}: ${(err as Error).message}`, {
      code: 'E_RUNDIR',
      hint: `check the permissions and free space of ${path.dirname(dir)}, or set --run-dir or TOPO_RUN_DIR elsewhere`,
      cause: err,
    });
  }
}
