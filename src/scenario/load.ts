// Scenario files: parse with positions, schema, the topology (a file or inline), rules; then the resolved Scenario.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { isTopoError } from '../errors.js';
import { fileKindOnDisk, loadTopology, type ValidateOptions } from '../topology/index.js';
import { PositionIndex, sortDiagnostics, toDiagnostics, type Diagnostic, type Issue } from '../topology/diagnostics.js';
import { isRecord, type RawTopology } from '../topology/doc.js';
import { parseText, readTopologyFile, tooBigDiagnostic, type Parsed } from '../topology/load.js';
import type { ResolvedTopology } from '../topology/model.js';
import { resolveTopology } from '../topology/resolve.js';
import { checkRules, type FileKind } from '../topology/rules.js';
import { confinedKind, confinementIssues, outside, refuseReplayShares, schemaJson, withConfinement } from '../topology/path-fields.js';
import { checkSchema, mergeIssues, SCHEMA_URL } from '../topology/validate.js';
import { parseDuration } from '../topology/units.js';
import { DEFAULT_SCENARIO_TIMEOUT_MS, DEFAULT_STEP_TIMEOUT_MS, type Scenario } from './model.js';
import { imageProblems } from './images.js';
import { checkScenarioRules } from './rules.js';
import { toStep } from './steps-model.js';

export const SCENARIO_SCHEMA_URL = new URL('../../schemas/scenario.schema.json', import.meta.url);
const SCENARIO_SCHEMA = { url: SCENARIO_SCHEMA_URL, rootHint: 'a scenario is a map with at least `topology` and `steps`' };

export type ScenarioResult = { ok: true; scenario: Scenario; diagnostics: [] } | { ok: false; diagnostics: Diagnostic[] };

export interface ScenarioOptions extends ValidateOptions {
  /** Replaces the scenario's own seed (`--seed`). */
  seed?: number;
}

/** A file is a scenario when its top level has `steps:` (or it is named *.scenario.yaml). */
export function isScenario(parsed: Parsed): boolean {
  return (isRecord(parsed.data) && Object.hasOwn(parsed.data, 'steps')) || /\.scenario\.ya?ml$/.test(parsed.file);
}

/** Default seed: a stable 32-bit number derived from the scenario's name. */
export function seedFromName(name: string): number {
  return createHash('sha256').update(name).digest().readUInt32BE(0);
}

/** Read, validate and resolve a scenario file; an unreadable file throws a TopoError (E_READ). */
export async function loadScenario(file: string, opts: ScenarioOptions = {}): Promise<ScenarioResult> {
  const text = await readTopologyFile(file);
  if (typeof text !== 'string') return { ok: false, diagnostics: [tooBigDiagnostic(file, text.tooBig)] };
  return validateScenario(parseText(text, file), text, opts);
}

export async function validateScenario(parsed: Parsed, text: string, opts: ScenarioOptions = {}): Promise<ScenarioResult> {
  const file = parsed.file;
  if (parsed.data === undefined) return { ok: false, diagnostics: sortDiagnostics(parsed.diagnostics) };
  const data = parsed.data;
  const dir = path.dirname(path.resolve(file));
  // A replay never looks at a host path outside the bundle: not even whether it exists.
  const fileKind: (p: string) => FileKind = confinedKind(opts.fileKind ?? fileKindOnDisk, opts.confine, 'missing');
  const diagnostics = [...parsed.diagnostics];
  // Every host path the scenario names (topology file, copy sources and destinations), found through the schema.
  const confined = opts.confine === undefined ? [] : confinementIssues(schemaJson(SCENARIO_SCHEMA_URL), data, dir, opts.confine);
  const issues: Issue[] = [];
  let topology: ResolvedTopology | undefined;
  let topologyFile: string | undefined;
  const raw = isRecord(data) ? data.topology : undefined;
  if (typeof raw === 'string') {
    topologyFile = path.resolve(dir, raw);
    if (!outside(opts.confine, topologyFile)) {
      try {
        const loaded = await loadTopology(topologyFile, { ...opts, fileKind });
        if (loaded.ok) topology = loaded.topology;
        else diagnostics.push(...loaded.diagnostics);
      } catch (err) {
        if (!isTopoError(err)) throw err;
        issues.push({ path: '/topology', code: 'E_READ', message: `topology file ${topologyFile}: ${err.message}; the path is relative to the scenario file` });
      }
    }
  } else if (isRecord(raw)) {
    // An inline topology: its problems are located in this file, under /topology.
    const inner = mergeIssues(checkSchema(raw), checkRules(raw, { dir, fileKind })).map((i) => ({ ...i, path: `/topology${i.path}` }));
    const inside = opts.confine === undefined ? inner : withConfinement(refuseReplayShares(raw, opts.confine, confinementIssues(schemaJson(SCHEMA_URL), raw, dir, opts.confine, '/topology'), '/topology'), inner);
    issues.push(...inside);
    if (inside.length === 0) topology = resolveTopology(raw as unknown as RawTopology, file);
  }
  // A qcow2 can name host files of its own (backing chain, data file): each is checked before QEMU could open it.
  if (topology && opts.confine) for (const m of await imageProblems(topology, opts.confine)) issues.push({ path: '/topology', code: 'E_CONFINED', message: m });
  const rules = checkScenarioRules(data, { dir, fileKind, topology });
  issues.push(...mergeIssues(checkSchema(data, SCENARIO_SCHEMA), withConfinement(confined, rules)));
  if (issues.length > 0) diagnostics.push(...toDiagnostics(file, issues, new PositionIndex(parsed.doc, parsed.lines, parsed.aliases)));
  if (diagnostics.length > 0 || !topology || !isRecord(data)) return { ok: false, diagnostics: sortDiagnostics(diagnostics) };

  const index = new PositionIndex(parsed.doc, parsed.lines, parsed.aliases);
  const name = typeof data.name === 'string' ? data.name : path.basename(file).replace(/(\.scenario)?\.ya?ml$/, '');
  const steps = (data.steps as unknown[]).map((s, i) => toStep(s as Record<string, unknown>, i, index.locate(`/steps/${i}`).line, topology, dir));
  const collect = ((data.collect as string[] | undefined) ?? []).map((c) => ({ node: c.slice(0, c.indexOf(':')), path: c.slice(c.indexOf(':') + 1) }));
  const forwardLinks = [...new Set(steps.flatMap((s) => (s.kind === 'impair' ? [s.link] : [])))];
  const scenario: Scenario = {
    name,
    file: path.resolve(file),
    text,
    topology,
    topologyFile,
    timeoutMs: data.timeout === undefined ? DEFAULT_SCENARIO_TIMEOUT_MS : (parseDuration(data.timeout) as number),
    seed: opts.seed ?? (typeof data.seed === 'number' ? data.seed : seedFromName(name)),
    steps,
    collect,
    forwardLinks,
  };
  return { ok: true, scenario, diagnostics: [] };
}

export { DEFAULT_STEP_TIMEOUT_MS };
