// `[LAB] NODE ...` argument handling shared by the commands that act on a running lab: a lab of this host (by name,
// through its control socket) or, with `--lab-file FILE` (TOPO_LAB_FILE), a lab spread over runners (SpreadLab).
import { TopoError } from '../errors.js';
import { pickLab, type LabEntry } from '../control/labs.js';
import { loadLabFile } from '../control/lab-file.js';
import { openLab, type LabClient } from '../control/remote-lab.js';
import { openSpreadLab } from '../control/spread-lab.js';
import { runBase } from '../runtime/rundir.js';

export interface LabFlags {
  runDir?: string;
  /** The lab file of a lab spread over runners (`topo k8s render --lab-file`). */
  labFile?: string;
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

/** The lab to act on: the lab file's (a LAB word, if given, must be its name) or the one named here. */
export async function openClient(lab: string | undefined, flags: LabFlags): Promise<LabClient> {
  if (flags.labFile === undefined) return openLab(await findLab(lab, flags));
  const file = await loadLabFile(flags.labFile);
  if (lab !== undefined && lab !== file.lab) {
    throw new TopoError(`the lab file ${flags.labFile} is of lab ${file.lab}, not ${lab}`, { code: 'E_USAGE', hint: `drop the lab name, or use the lab file of ${lab}` });
  }
  return openSpreadLab(file);
}

/** The lab named (or the only one running, or the lab file's) through one client; disconnected once `fn` settles. */
export async function withLab<T>(lab: string | undefined, flags: LabFlags, fn: (remote: LabClient) => Promise<T>): Promise<T> {
  return withClient(await openClient(lab, flags), fn);
}

/** `withLab` for a lab already found (`topo down --all` walks a list). */
export async function withEntry<T>(entry: LabEntry, fn: (remote: LabClient) => Promise<T>): Promise<T> {
  return withClient(await openLab(entry), fn);
}

async function withClient<T>(remote: LabClient, fn: (remote: LabClient) => Promise<T>): Promise<T> {
  try {
    return await fn(remote);
  } finally {
    await remote.close();
  }
}

/** A flag that needs this host's run directories, refused with --lab-file in one line. */
export function notWithLabFile(flags: LabFlags, what: string, why: string): void {
  if (flags.labFile !== undefined) throw new TopoError(`${what} cannot be used with --lab-file: ${why}`, { code: 'E_USAGE' });
}

export function usageError(err: unknown): boolean {
  return err instanceof TopoError && err.code === 'E_USAGE';
}
