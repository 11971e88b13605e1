// `topo test FILE... --attach LAB`: what is refused before anything runs, and what is said about the lab after.
import { isTopoError } from '../errors.js';
import { attachLab, mismatchError } from '../scenario/attach.js';
import { isBundlePath } from '../scenario/bundle.js';
import type { Scenario } from '../scenario/model.js';
import type { ScenarioRun } from '../scenario/runner.js';
import { oneLine } from '../topology/diagnostics.js';

export interface AttachFlags {
  attach?: string;
  pauseOnFailure?: boolean;
  keep?: boolean;
  seed?: number;
  runDir?: string;
  labFile?: string;
}

const err = (line: string) => process.stderr.write(`${oneLine(line)}\n`);

/** Flags and files that make no sense on a lab this run did not boot: one line each, exit 2, before anything is read. */
export function attachUsage(files: readonly string[], flags: AttachFlags): number | undefined {
  if (flags.attach === undefined) return undefined;
  const problems: string[] = [];
  if (flags.pauseOnFailure) problems.push('--pause-on-failure cannot be used with --attach: the attached lab stays up after the run anyway (look at it with `topo exec`, `topo console`)');
  if (flags.keep) problems.push('--keep cannot be used with --attach: the attached lab is not torn down, its run directory stays while it runs');
  if (flags.seed !== undefined) problems.push("--seed cannot be used with --attach: the lab's seed was fixed when it started (its `seed:`), and the run uses it");
  for (const f of files.filter(isBundlePath)) problems.push(`${f}: a bundle replays on a fresh lab of its own topology and package versions; --attach runs scenario files`);
  for (const p of problems) err(`topo: error: ${p} (E_USAGE)`);
  return problems.length > 0 ? 2 : undefined;
}

/**
 * Before any step: the lab answers and is ready (else exit 1: one line naming it and `topo ps`), and runs every
 * scenario's topology (else exit 2: E_ATTACH_MISMATCH, every difference in one line per file). Returns the scenarios
 * with the lab's seed: its impairments draw from the seed it started with, so that is the run's (and a bundle's) seed.
 */
export async function attachPreflight(scenarios: readonly Scenario[], flags: AttachFlags, shown: (s: Scenario) => string): Promise<Scenario[] | number> {
  let attached: Awaited<ReturnType<typeof attachLab>>;
  try {
    attached = await attachLab(flags.attach!, { runDirBase: flags.runDir, labFile: flags.labFile });
  } catch (e) {
    if (!isTopoError(e)) throw e;
    err(`topo: ${e.oneLine()}`);
    return 1;
  }
  try {
    const errors = scenarios.flatMap((s) => mismatchError(s, attached.status, shown(s)) ?? []);
    for (const e of errors) err(`topo: ${e.oneLine()}`);
    if (errors.length > 0) return 2;
    return scenarios.map((s) => ({ ...s, seed: attached.status.seed }));
  } finally {
    attached.lab.close();
  }
}

/** After an attached run: the lab stays up, and what the steps left changed in it (they are not undone). */
export function attachedNotice(run: ScenarioRun): string[] {
  const a = run.attached;
  if (!a?.changes) return [];
  if (a.changes.length === 0) return [`  lab ${a.lab} is still up; the steps left no link, impairment or node changed`];
  return [`  lab ${a.lab} is still up, as the steps left it (nothing is undone):`, ...a.changes.map((c) => `    ${c}`)];
}
