// Shared helpers for topology tests: validate inline YAML without touching the disk.
import { expect } from 'vitest';
import { validateText, type Diagnostic } from '../../src/topology/index.js';
import type { ResolvedTopology } from '../../src/topology/model.js';

export const FILE = '/lab/topo.yaml';
const everyFileExists = () => true;
/** Every path is a file, except those ending in /tpm (a TPM state directory). */
const filesAndTpmDirs = (p: string) => (p.endsWith('/tpm') ? ('directory' as const) : ('file' as const));

/** Dedent so tests can write YAML inline at any indentation. */
export function yaml(text: string): string {
  const lines = text.replace(/^\n/, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => /^ */.exec(l)?.[0].length ?? 0));
  return lines.map((l) => l.slice(indent)).join('\n');
}

export function errorsOf(text: string, fileExists: (p: string) => boolean = everyFileExists): Diagnostic[] {
  const res = validateText(yaml(text), FILE, { fileExists });
  return res.ok ? [] : res.diagnostics;
}

export function resolved(text: string): ResolvedTopology {
  const res = validateText(yaml(text), FILE, { fileKind: filesAndTpmDirs });
  if (!res.ok) throw new Error(res.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`).join('\n'));
  return res.topology;
}

/** Exactly one diagnostic, with this code, mentioning `text`. */
export function expectOne(text: string, code: string, contains: string, fileExists?: (p: string) => boolean): Diagnostic {
  const errs = errorsOf(text, fileExists);
  expect(errs.map((e) => `${e.code} ${e.message}`)).toHaveLength(1);
  const [e] = errs as [Diagnostic];
  expect(e.code).toBe(code);
  expect(e.message).toContain(contains);
  return e;
}
