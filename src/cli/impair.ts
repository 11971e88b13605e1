// `topo impair [LAB] ENDPOINT [--delay D] ... [--direction both|out|in] [--clear]`, `topo impair [LAB] --show [--json]`.
import { TopoError } from '../errors.js';
import type { Direction } from '../api/dataplane.js';
import { describeImpairment, IMPAIR_FIELDS, impairProblem, type ImpairSpec } from '../topology/impairment.js';
import { splitLab, withLab, type LabFlags } from './lab-args.js';

export type ImpairFlags = LabFlags & Partial<Record<(typeof IMPAIR_FIELDS)[number], string>> & { direction?: string; clear?: boolean; show?: boolean; json?: boolean };

export async function impairCommand(words: string[], flags: ImpairFlags): Promise<number> {
  const { lab, rest } = flags.show ? { lab: words[0], rest: [] } : splitLab(words, 1, '[LAB] ENDPOINT');
  if (flags.show && words.length > 1) throw new TopoError('expected [LAB] with --show', { code: 'E_USAGE' });
  const spec: ImpairSpec = {};
  for (const f of IMPAIR_FIELDS) if (flags[f] !== undefined) spec[f] = flags[f];
  const problem = impairProblem(spec);
  // The same words as validation uses for a file: an out-of-range value is the user's error (exit 1).
  if (problem) throw new TopoError(problem, { code: 'E_IMPAIR' });
  const direction = (flags.direction ?? 'both') as Direction;
  if (!['both', 'out', 'in'].includes(direction)) throw new TopoError(`--direction must be both, out or in, not ${JSON.stringify(flags.direction)}`, { code: 'E_USAGE' });
  if (!flags.show && !flags.clear && Object.keys(spec).length === 0) {
    throw new TopoError('nothing to change: give at least one of --delay --jitter --loss --rate --duplicate --reorder --corrupt, or --clear', { code: 'E_USAGE' });
  }
  return withLab(lab, flags, async (remote) => {
    const result = flags.show ? await remote.impairments() : await remote.impair(rest[0]!, { spec, clear: flags.clear, direction });
    if (flags.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else if (result.length === 0) process.stdout.write(`${remote.name}: no forwarded links (start the lab with --forward-all or mark links forward: true)\n`);
    else for (const r of result) process.stdout.write(`${remote.name}: ${r.link} to ${r.to}: ${describeImpairment(r.impair)}\n`);
    return 0;
  });
}
