// Directories and files in places other users might reach: never follow what they planted, never use what they own.
import { constants, openSync, type Stats } from 'node:fs';
import { lstat, mkdir, open, readlink, statfs } from 'node:fs/promises';
import path from 'node:path';
import { TopoError } from '../errors.js';

/** Create-only, never through a symlink: the file is new, so nobody else can hold it open or have linked it elsewhere. */
export const CREATE_EXCLUSIVE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const APPEND_NOFOLLOW = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW;
const MAX_SYMLINKS = 40;
const STICKY = 0o1000;

// statfs f_type of kernel pseudo file systems: creating directories there fails oddly, or (cgroup) means something else.
const PSEUDO_FS = new Map<number, string>([
  [0x9fa0, 'proc'], [0x62656572, 'sysfs'], [0x27e0eb, 'cgroup'], [0x63677270, 'cgroup2'], [0x1cd1, 'devpts'],
  [0x64626720, 'debugfs'], [0x74726163, 'tracefs'], [0x73636673, 'securityfs'], [0x6165676c, 'pstore'],
  [0xcafe4a11, 'bpf'], [0x62656570, 'configfs'], [0x65735543, 'fusectl'], [0x19800202, 'mqueue'],
  [0xde5e81e4, 'efivarfs'], [0x42494e4d, 'binfmt_misc'], [0xf97cff8c, 'selinuxfs'], [0x6e736673, 'nsfs'],
  [0x958458f6, 'hugetlbfs'], [0x0187, 'autofs'],
]);

export interface DirPolicy {
  /** Names the directory in messages: "run directory base", "capture directory". */
  what: string;
  /** How to pick another directory, ending every hint: "set --run-dir or TOPO_RUN_DIR to a directory of your own". */
  choose: string;
  /** Error code of refusals. */
  code: string;
  /** Mode of directories created on the way. */
  mode: number;
}

const me = (): number => process.getuid?.() ?? 0;
const octal = (mode: number): string => `0${(mode & 0o7777).toString(8)}`;

function refuse(policy: DirPolicy, dir: string, problem: string, fix: string): TopoError {
  return new TopoError(`${policy.what} ${dir}: ${problem}`, { code: policy.code, hint: `${fix}, or ${policy.choose}` });
}

/** Why a directory on the way is unsafe, if it is: another user owns it, or may rename what is in it. */
function dirProblem(p: string, st: Stats): { problem: string; fix: string } | undefined {
  if (!st.isDirectory()) return { problem: `${p} is not a directory`, fix: `remove or rename ${p}` };
  if (st.uid !== me() && st.uid !== 0) return { problem: `${p} is owned by uid ${st.uid}, not by you (uid ${me()}) or root`, fix: `remove it (rm -r ${p}, as its owner or root)` };
  if (st.mode & 0o022 && !(st.mode & STICKY)) return { problem: `${p} is writable by other users (mode ${octal(st.mode)})`, fix: `chmod go-w ${p}` };
  return undefined;
}

async function refusePseudo(policy: DirPolicy, dir: string, existing: string): Promise<void> {
  const type = await statfs(existing).then((s) => PSEUDO_FS.get(s.type), () => undefined);
  if (type) throw refuse(policy, dir, `${existing} is on the ${type} pseudo file system`, 'choose a directory on a real file system');
}

/**
 * Resolve `dir` one component at a time, creating missing ones (bounded: one step per component or symlink), and
 * refuse a path through a directory or symlink another user controls. Returns the real path, to be used from then on.
 */
export async function secureDir(dir: string, policy: DirPolicy): Promise<string> {
  const target = path.resolve(dir);
  const todo = target.split('/').filter(Boolean);
  let cur = '/';
  let links = 0;
  const rootProblem = dirProblem('/', await lstat('/'));
  if (rootProblem) throw refuse(policy, target, rootProblem.problem, rootProblem.fix);
  while (todo.length > 0) {
    const name = todo.shift()!;
    if (name === '.') continue;
    if (name === '..') {
      cur = path.dirname(cur);
      continue;
    }
    const next = path.join(cur, name);
    const inspect = () =>
      lstat(next).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw refuse(policy, target, `cannot inspect ${next}: ${err.message}`, 'check its permissions');
      });
    let st = await inspect();
    if (!st) {
      await refusePseudo(policy, target, cur);
      await mkdir(next, { mode: policy.mode }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw refuse(policy, target, `cannot create ${next}: ${err.message}`, `check the permissions of ${cur}`);
      });
      st = await inspect();
      if (!st) throw refuse(policy, target, `${next} vanished right after it was created`, 'check for another process removing it');
    }
    if (st.isSymbolicLink()) {
      if (st.uid !== me() && st.uid !== 0) throw refuse(policy, target, `${next} is a symbolic link owned by uid ${st.uid}`, `remove it (rm ${next})`);
      if (++links > MAX_SYMLINKS) throw refuse(policy, target, `too many symbolic links at ${next}`, 'fix the links');
      const link = await readlink(next);
      if (link.startsWith('/')) cur = '/';
      todo.unshift(...link.split('/').filter(Boolean));
      continue;
    }
    const problem = dirProblem(next, st);
    if (problem) throw refuse(policy, target, problem.problem, problem.fix);
    cur = next;
  }
  await refusePseudo(policy, target, cur);
  return cur;
}

/** A directory only we may write to: not a symlink, ours, not writable by group or others (checked with lstat). */
export async function checkPrivateDir(dir: string, policy: DirPolicy): Promise<void> {
  const st = await lstat(dir).catch((err: Error) => {
    throw refuse(policy, dir, `cannot inspect it: ${err.message}`, 'check its permissions');
  });
  if (st.isSymbolicLink()) throw refuse(policy, dir, 'it is a symbolic link', `remove the link (rm ${dir})`);
  if (!st.isDirectory()) throw refuse(policy, dir, 'it is not a directory', `remove or rename ${dir}`);
  if (st.uid !== me()) throw refuse(policy, dir, `it is owned by uid ${st.uid}, not by you (uid ${me()})`, `remove it (rm -r ${dir}, as its owner or root)`);
  if (st.mode & STICKY && st.mode & 0o002) throw refuse(policy, dir, `it is a shared directory (mode ${octal(st.mode)})`, `use a private one inside it, such as ${path.join(dir, `topo-${me()}`)}`);
  if (st.mode & 0o022) throw refuse(policy, dir, `it is writable by other users (mode ${octal(st.mode)})`, `chmod 700 ${dir}`);
}

/** Write a new file (O_CREAT|O_EXCL|O_NOFOLLOW): fails rather than reuse or follow anything already there. */
export async function createFileExclusive(file: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const fh = await open(file, CREATE_EXCLUSIVE, mode).catch((err: NodeJS.ErrnoException) => {
    const why = err.code === 'EEXIST' || err.code === 'ELOOP' ? 'something already exists there' : err.message;
    throw new TopoError(`cannot create ${file}: ${why}`, { code: 'E_RUNDIR', hint: `remove what is at ${file}; check the permissions of ${path.dirname(file)}`, cause: err });
  });
  try {
    await fh.writeFile(data);
  } finally {
    await fh.close();
  }
}

/** A new directory (plain mkdir: fails on anything already there, symlinks included), verified with lstat. */
export async function createDirExclusive(dir: string, mode = 0o700): Promise<void> {
  try {
    await mkdir(dir, { mode });
    const st = await lstat(dir);
    if (!st.isDirectory() || st.uid !== me()) throw new Error('it was replaced while being created');
  } catch (err) {
    throw new TopoError(`cannot create ${dir}: ${(err as Error).message}`, { code: 'E_RUNDIR', hint: `remove what is at ${dir}; check the permissions of ${path.dirname(dir)}`, cause: err });
  }
}

/** Append to a log without following a symlink at its name; an open or write failure never crashes the runner. */
/** A new append-only file that never follows a symlink at `file`; the caller owns the fd. */
export function openAppendFd(file: string): number {
  return openSync(file, APPEND_NOFOLLOW | constants.O_EXCL, 0o600);
}

/** Capture directories may be shared (pcaps are opened O_EXCL|O_NOFOLLOW), but not reached through others' paths. */
export const CAPTURE_POLICY: DirPolicy = {
  what: 'capture directory',
  choose: 'pass --capture-dir with a directory of your own',
  code: 'E_CAPTURE_DIR',
  mode: 0o755,
};
