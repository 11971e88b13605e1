// The pcaps of an earlier run of a lab are evidence: the next run moves them aside instead of overwriting them.
import { lstat, mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { TopoError } from '../errors.js';

/** `20261207T060212Z`: the same stamp as `<lab>.kept-<time>` run directories. */
const stamp = (d: Date) => d.toISOString().replace(/[-:]|\.\d+/g, '');

/**
 * Move the files among `names` that already exist in `dir` (ours, regular files) into `dir/<time>/`, the time
 * being that of the newest one (when the earlier run stopped writing). Returns a line for the user, or nothing.
 */
export async function keepEarlierCaptures(dir: string, names: readonly string[], lab: string): Promise<string | undefined> {
  const found: { name: string; mtime: Date }[] = [];
  for (const name of names) {
    const st = await lstat(path.join(dir, name)).catch(() => undefined);
    // Anything else (a link, another user's file) is left to the pcap writer, which refuses to follow or reuse it.
    if (st?.isFile() && st.uid === process.getuid?.()) found.push({ name, mtime: st.mtime });
  }
  if (found.length === 0) return undefined;
  const newest = new Date(Math.max(...found.map((f) => f.mtime.getTime())));
  const dest = await freshDir(dir, stamp(newest));
  for (const f of found) {
    await rename(path.join(dir, f.name), path.join(dest, f.name)).catch((err: Error) => {
      throw new TopoError(`cannot move the earlier capture ${path.join(dir, f.name)} to ${dest}: ${err.message}`, {
        code: 'E_CAPTURE_DIR', hint: `move it away yourself, or pass --capture-dir with another directory`, cause: err,
      });
    });
  }
  return `the captures of an earlier run of lab "${lab}" were moved to ${dest}`;
}

async function freshDir(dir: string, name: string): Promise<string> {
  for (let n = 1; n < 100; n++) {
    const candidate = path.join(dir, n === 1 ? name : `${name}-${n}`);
    // mkdir fails on anything already there, a symlink included.
    const made = await mkdir(candidate, { mode: 0o755 }).then(() => true, (err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') return false;
      throw new TopoError(`cannot create ${candidate} for the earlier run's captures: ${err.message}`, {
        code: 'E_CAPTURE_DIR', hint: `check the permissions of ${dir}, or pass --capture-dir with another directory`, cause: err,
      });
    });
    if (made) return candidate;
  }
  throw new TopoError(`too many earlier captures named ${path.join(dir, name)}*`, { code: 'E_CAPTURE_DIR', hint: `delete old ones in ${dir}` });
}
