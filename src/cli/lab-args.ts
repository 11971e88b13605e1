// `[LAB] NODE ...` argument handling shared by the commands that act on a running lab.
import { TopoError } from '../errors.js';
import { pickLab, type LabEntry } from '../control/labs.js';
import { openLab, type RemoteLab } from '../control/remote-lab.js';
import { runBase } from '../runtime/rundir.js';

export interface LabFlags {
  runDir?: string;
}

/** Words are `[LAB] REQUIRED...`: the lab is there when one more word than required was given. */
export function splitLab(words: readonly string[], required: number, usage: string): { lab?: string; rest: string[] } {
  if (words.length === required) return { rest: [...words] };
  if (words.length === required + 1) return { lab: words[0], rest: words.slice(1) };
  throw new TopoError(`expected ${usage}`, { code: 'E_USAGE' });
}

export function findLab(lab: string | undefined, flags: LabFlags): Promise<LabEntry> {
  return pickLab(lab, runBase(flags.runDir));
}

/** The lab named (or the only one running) through the one client, RemoteLab; disconnected once `fn` settles. */
export async function withLab<T>(lab: string | undefined, flags: LabFlags, fn: (remote: RemoteLab) => Promise<T>): Promise<T> {
  return withEntry(await findLab(lab, flags), fn);
}

/** `withLab` for a lab already found (`topo down --all` walks a list). */
export async function withEntry<T>(entry: LabEntry, fn: (remote: RemoteLab) => Promise<T>): Promise<T> {
  const remote = await openLab(entry);
  try {
    return await fn(remote);
  } finally {
    await remote.close();
  }
}

export function usageError(err: unknown): boolean {
  return err instanceof TopoError && err.code === 'E_USAGE';
}
