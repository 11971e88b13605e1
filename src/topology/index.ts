// Public API of the topology format: load a file (or check text) and get a frozen model or diagnostics.
import { statSync } from 'node:fs';
import path from 'node:path';
import { PositionIndex, sortDiagnostics, toDiagnostics, type Diagnostic } from './diagnostics.js';
import type { RawTopology } from './doc.js';
import { parseText, readTopologyFile } from './load.js';
import type { ResolvedTopology } from './model.js';
import { resolveTopology } from './resolve.js';
import { checkRules } from './rules.js';
import { checkSchema, mergeIssues } from './validate.js';

export type LoadResult = { ok: true; topology: ResolvedTopology; diagnostics: [] } | { ok: false; diagnostics: Diagnostic[] };

export interface ValidateOptions {
  /** Whether a referenced file exists; defaults to the real filesystem. */
  fileExists?: (absPath: string) => boolean;
}

export function fileExistsOnDisk(absPath: string): boolean {
  const st = statSync(absPath, { throwIfNoEntry: false });
  return st !== undefined && !st.isDirectory();
}

/** Validate and resolve topology text; `file` names it in diagnostics and anchors relative paths. Never throws. */
export function validateText(text: string, file: string, opts: ValidateOptions = {}): LoadResult {
  const parsed = parseText(text, file);
  if (parsed.data === undefined) return { ok: false, diagnostics: sortDiagnostics(parsed.diagnostics) };
  const dir = path.dirname(path.resolve(file));
  const issues = mergeIssues(checkSchema(parsed.data), checkRules(parsed.data, { dir, fileExists: opts.fileExists ?? fileExistsOnDisk }));
  const diagnostics = [...parsed.diagnostics];
  if (issues.length > 0) diagnostics.push(...toDiagnostics(file, issues, new PositionIndex(parsed.doc, parsed.lines)));
  if (diagnostics.length > 0) return { ok: false, diagnostics: sortDiagnostics(diagnostics) };
  return { ok: true, topology: resolveTopology(parsed.data as RawTopology, file), diagnostics: [] };
}

/** Read, validate and resolve a topology file. An unreadable file throws a TopoError (code E_READ). */
export async function loadTopology(file: string, opts: ValidateOptions = {}): Promise<LoadResult> {
  return validateText(await readTopologyFile(file), file, opts);
}

export type { Diagnostic } from './diagnostics.js';
export { formatDiagnostic } from './diagnostics.js';
export { dependencyGraph, toDot, toJson, toMermaid, wiringGraph } from './graph.js';
export { macFor } from './mac.js';
export type * from './model.js';
