// Private run directory per lab; its existence (mkdir is atomic) is also the lock against a second `up` of the same lab.
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TopoError } from '../errors.js';

export interface RunDir {
  readonly lab: string;
  readonly path: string;
  file(name: string): string;
  /** Remove the directory (and with it the lock). */
  remove(): Promise<void>;
}

export function runBase(override?: string): string {
  if (override) return path.resolve(override);
  if (process.env.TOPO_RUN_DIR) return path.resolve(process.env.TOPO_RUN_DIR);
  const xdg = process.env.XDG_RUNTIME_DIR;
  return xdg ? path.join(xdg, 'topo') : path.join(os.tmpdir(), `topo-${process.getuid?.() ?? 'user'}`);
}

export async function acquireRunDir(lab: string, base = runBase()): Promise<RunDir> {
  await mkdir(base, { recursive: true, mode: 0o700 });
  const dir = path.join(base, lab);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await mkdir(dir, { mode: 0o700 });
      await writeFile(path.join(dir, 'pid'), `${process.pid}\n`);
      return {
        lab,
        path: dir,
        file: (name) => path.join(dir, name),
        remove: () => rm(dir, { recursive: true, force: true }),
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = await liveOwner(dir);
      if (owner !== undefined) {
        throw new TopoError(`lab "${lab}" is already running (topo pid ${owner}, run directory ${dir})`, {
          code: 'E_LAB_RUNNING',
          hint: 'stop that `topo up` first (Ctrl-C or kill it), or rename this lab with `name:`',
        });
      }
      // A previous runner died without cleaning up: its QEMUs died with it (pdeathsig), so the directory is stale.
      await rm(dir, { recursive: true, force: true });
    }
  }
  throw new TopoError(`cannot take the run directory ${dir}`, { code: 'E_RUNDIR', hint: 'remove it by hand' });
}

async function liveOwner(dir: string): Promise<number | 'starting' | undefined> {
  const pid = Number((await readFile(path.join(dir, 'pid'), 'utf8').catch(() => '')).trim());
  if (!pid) {
    // mkdir happened but the pid is not written yet: a runner is starting right now, unless the dir is old.
    const age = await stat(dir).then((s) => Date.now() - s.mtimeMs, () => Infinity);
    return age < 10_000 ? 'starting' : undefined;
  }
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}
