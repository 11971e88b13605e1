// Finding labs: every run directory under the base is a lab; its control socket says how it is, or it is stale.
import { lstat, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { TopoError } from '../errors.js';
import { existingBase, labOwner, notOurRunDir, runBase } from '../runtime/rundir.js';
import type { LabStatus } from '../api/status.js';
import { ControlConnection } from './client.js';
import { SOCKET_NAME } from './protocol.js';

export interface LabEntry {
  readonly lab: string;
  readonly dir: string;
  /** undefined: the supervisor is gone (stale) or not serving yet (starting). */
  readonly status?: LabStatus;
  readonly state: 'running' | 'starting' | 'stale';
}

const LAB_NAME = /^[a-z][a-z0-9-]{0,31}$/;

export async function listLabs(base = runBase()): Promise<LabEntry[]> {
  // The same trust check as `up`: a base another user planted (a symlink after a reboot) is refused, not read.
  const real = await existingBase(base);
  if (!real) return [];
  const names = await readdir(real).catch(() => [] as string[]);
  const out: LabEntry[] = [];
  const uid = process.getuid?.() ?? 0;
  for (const lab of names.filter((n) => LAB_NAME.test(n)).sort()) {
    const dir = path.join(real, lab);
    // Only our own labs: a link or another user's directory is none of ours (and never reported stale).
    const st = await lstat(dir).catch(() => undefined);
    if (!st?.isDirectory() || st.uid !== uid) continue;
    out.push(await probeLab(lab, dir));
  }
  return out;
}

async function probeLab(lab: string, dir: string): Promise<LabEntry> {
  try {
    const conn = await ControlConnection.open(path.join(dir, SOCKET_NAME), lab);
    try {
      return { lab, dir, state: 'running', status: await conn.request<LabStatus>({ op: 'status' }) };
    } finally {
      conn.close();
    }
  } catch {
    // No answer: a supervisor still preparing (before its socket exists) or one that died.
    return { lab, dir, state: (await labOwner(dir)) ? 'starting' : 'stale' };
  }
}

/** The lab named, or the only one running; otherwise one line listing what exists. */
export async function pickLab(name: string | undefined, base = runBase()): Promise<LabEntry> {
  const labs = await listLabs(base);
  if (name) {
    const found = labs.find((l) => l.lab === name);
    if (found) return found;
    throw new TopoError(`no lab "${name}" (running: ${labs.map((l) => l.lab).join(', ') || 'none'})`, { code: 'E_NO_LAB', hint: 'see `topo ps`' });
  }
  const live = labs.filter((l) => l.state !== 'stale');
  if (live.length === 1) return live[0]!;
  if (live.length === 0) throw new TopoError('no lab is running', { code: 'E_NO_LAB', hint: 'start one with `topo up --detach FILE`' });
  throw new TopoError(`several labs are running (${live.map((l) => l.lab).join(', ')}): name one`, { code: 'E_NO_LAB' });
}

/** Remove what a dead supervisor left (its QEMUs died with it: pdeathsig and the janitor); only a run directory of ours. */
export async function cleanStale(entry: LabEntry): Promise<void> {
  if (await labOwner(entry.dir)) throw new TopoError(`lab ${entry.lab} is still starting`, { code: 'E_LAB_RUNNING', hint: 'wait for it, then `topo down` again' });
  const why = await notOurRunDir(entry.dir);
  if (why) throw new TopoError(`${entry.dir} is not a topo run directory of yours (${why}): left in place`, { code: 'E_RUNDIR_UNSAFE', hint: `look at it and remove it by hand if it is yours` });
  // rm removes links inside, never what they point to.
  await rm(entry.dir, { recursive: true, force: true });
}

export function socketOf(entry: LabEntry): string {
  return path.join(entry.dir, SOCKET_NAME);
}
