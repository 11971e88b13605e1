// Impairment values as people write them (`40ms`, `0.5%`, `20mbit`) -> the model's numbers; shared by files, the CLI and the library.
import { TopoError } from '../errors.js';
import type { Impairment } from './model.js';
import { parseDuration, parsePercent, parseRate } from './units.js';
import { durationProblem, percentProblem, rateProblem } from './values.js';

export type ImpairField = 'delay' | 'jitter' | 'loss' | 'rate' | 'duplicate' | 'reorder' | 'corrupt';
export type ImpairSpec = Partial<Record<ImpairField, number | string>>;

export const IMPAIR_FIELDS: readonly ImpairField[] = ['delay', 'jitter', 'loss', 'rate', 'duplicate', 'reorder', 'corrupt'];

const PROBLEM: Record<ImpairField, (v: unknown) => string | undefined> = {
  delay: durationProblem,
  jitter: durationProblem,
  rate: rateProblem,
  loss: percentProblem,
  duplicate: percentProblem,
  reorder: percentProblem,
  corrupt: percentProblem,
};

/** The first problem of a spec, worded as validation words it for a file. */
export function impairProblem(spec: ImpairSpec): string | undefined {
  for (const [field, v] of Object.entries(spec)) {
    if (!(IMPAIR_FIELDS as readonly string[]).includes(field)) return `unknown impairment "${field}"; use ${IMPAIR_FIELDS.join(', ')}`;
    if (v === undefined) continue;
    const why = PROBLEM[field as ImpairField](v);
    if (why) return `impair ${field} ${JSON.stringify(v)}: ${why}`;
  }
  return undefined;
}

/** Parse a spec (valid or not: an invalid one throws E_IMPAIR with the file's wording). Missing fields are 0. */
export function parseImpairment(spec: ImpairSpec): Impairment {
  const problem = impairProblem(spec);
  if (problem) throw new TopoError(problem, { code: 'E_IMPAIR' });
  const pct = (v: number | string | undefined) => (v === undefined ? 0 : (parsePercent(v) ?? 0));
  const dur = (v: number | string | undefined) => (v === undefined ? 0 : (parseDuration(v) ?? 0));
  return {
    delayMs: dur(spec.delay),
    jitterMs: dur(spec.jitter),
    lossPct: pct(spec.loss),
    rateBps: spec.rate === undefined ? 0 : (parseRate(spec.rate) ?? 0),
    duplicatePct: pct(spec.duplicate),
    reorderPct: pct(spec.reorder),
    corruptPct: pct(spec.corrupt),
  };
}

const FIELDS: [keyof Impairment, string, string][] = [
  ['delayMs', 'delay', 'ms'],
  ['jitterMs', 'jitter', 'ms'],
  ['lossPct', 'loss', '%'],
  ['rateBps', 'rate', 'bit/s'],
  ['duplicatePct', 'duplicate', '%'],
  ['reorderPct', 'reorder', '%'],
  ['corruptPct', 'corrupt', '%'],
];

/** An impairment in words, as `topo impair --show` prints it: `delay 40ms, loss 1%`, or `none`. */
export function describeImpairment(imp: Impairment | undefined): string {
  const parts = FIELDS.filter(([k]) => imp?.[k]).map(([k, name, unit]) => `${name} ${imp![k]}${unit}`);
  return parts.join(', ') || 'none';
}
