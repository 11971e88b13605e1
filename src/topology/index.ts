// Public API of the topology format: load a file (or check text) and get a frozen model or diagnostics.
import { statSync } from 'node:fs';
import path from 'node:path';
import { PositionIndex, sortDiagnostics, toDiagnostics, type Diagnostic } from './diagnostics.js';
import type { RawTopology } from './doc.js';
import { parseText, readTopologyFile, tooBigDiagnostic } from './load.js';
import type { ResolvedTopology } from './model.js';
import { resolveTopology } from './resolve.js';
import { checkRules, type FileKind } from './rules.js';
import { confinedKind, confinementIssues, refuseReplayShares, schemaJson, withConfinement } from './path-fields.js';
import { checkSchema, mergeIssues, SCHEMA_URL } from './validate.js';

export type LoadResult = { ok: true; topology: ResolvedTopology; diagnostics: [] } | { ok: false; diagnostics: Diagnostic[] };

export interface ValidateOptions {
  /** What is at a referenced path; defaults to the real filesystem. Takes precedence over fileExists. */
  fileKind?: (absPath: string) => FileKind;
  /** Whether a referenced file exists (older, coarser form of fileKind). */
  fileExists?: (absPath: string) => boolean;
  /** Replaying a bundle: every host path the document names must lie in this directory (E_CONFINED otherwise). */
  confine?: string;
}

export function fileKindOnDisk(absPath: string): FileKind {
  const st = statSync(absPath, { throwIfNoEntry: false });
  return st === undefined ? 'missing' : st.isDirectory() ? 'directory' : 'file';
}

export function fileExistsOnDisk(absPath: string): boolean {
  return fileKindOnDisk(absPath) === 'file';
}

function kindOf(opts: ValidateOptions): (absPath: string) => FileKind {
  if (opts.fileKind) return opts.fileKind;
  const exists = opts.fileExists;
  return exists ? (p) => (exists(p) ? 'file' : 'missing') : fileKindOnDisk;
}

/** Validate and resolve topology text; `file` names it in diagnostics and anchors relative paths. Never throws. */
export function validateText(text: string, file: string, opts: ValidateOptions = {}): LoadResult {
  const parsed = parseText(text, file);
  if (parsed.data === undefined) return { ok: false, diagnostics: sortDiagnostics(parsed.diagnostics) };
  const dir = path.dirname(path.resolve(file));
  const confined = opts.confine === undefined ? [] : refuseReplayShares(parsed.data, opts.confine, confinementIssues(schemaJson(SCHEMA_URL), parsed.data, dir, opts.confine));
  const rules = checkRules(parsed.data, { dir, fileKind: confinedKind(kindOf(opts), opts.confine, 'missing') });
  const issues = mergeIssues(checkSchema(parsed.data), withConfinement(confined, rules));
  const diagnostics = [...parsed.diagnostics];
  if (issues.length > 0) diagnostics.push(...toDiagnostics(file, issues, new PositionIndex(parsed.doc, parsed.lines, parsed.aliases)));
  if (diagnostics.length > 0) return { ok: false, diagnostics: sortDiagnostics(diagnostics) };
  return { ok: true, topology: resolveTopology(parsed.data as RawTopology, file), diagnostics: [] };
}

/** Read, validate and resolve a topology file. An unreadable file throws a TopoError (code E_READ). */
export async function loadTopology(file: string, opts: ValidateOptions = {}): Promise<LoadResult> {
  const text = await readTopologyFile(file);
  if (typeof text !== 'string') return { ok: false, diagnostics: [tooBigDiagnostic(file, text.tooBig)] };
  return validateText(text, file, opts);
}

export type { Diagnostic } from './diagnostics.js';
export { formatDiagnostic, oneLine } from './diagnostics.js';
export { bootLevels, bootOrder, dependencyGraph, toDot, toJson, toMermaid, wiringGraph } from './graph.js';
export { CMDLINE_RESERVE, KERNEL_CMDLINE_SIZE, LIMITS, MAX_USER_CMDLINE } from './limits.js';
export { macFor } from './mac.js';
export { compilePattern, literalPattern, patternProblem, type Pattern } from './pattern.js';
export type { FileKind } from './rules.js';
export type * from './model.js';
