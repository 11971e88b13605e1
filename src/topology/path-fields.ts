// Host paths a document names, found through the schema: every string property that is a host path carries
// `"x-topo-path": "file" | "dir" | "file-or-guest"`, so replay confinement (and anything else that must see every
// path) cannot forget a field. A unit test fails when a path-like schema property lacks the annotation.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { subject, type Issue } from './diagnostics.js';
import { isRecord } from './doc.js';

/** The schema keyword (an annotation Ajv knows but does not check); `false` marks a path-like string that is no host path. */
export const PATH_KEYWORD = 'x-topo-path';

/** file/dir: a host path; file-or-guest: a host path unless it reads NODE:/path (copy steps). */
export type PathKind = 'file' | 'dir' | 'file-or-guest';

export interface PathField {
  /** JSON pointer of the value in the document. */
  pointer: string;
  value: string;
  kind: PathKind;
}

const GUEST = /^[a-z][a-z0-9-]{0,31}:\//;
const schemas = new Map<string, object>();

/** The schema at `url`, parsed once per process. */
export function schemaJson(url: URL): object {
  let s = schemas.get(url.href);
  if (!s) {
    s = JSON.parse(readFileSync(url, 'utf8')) as object;
    schemas.set(url.href, s);
  }
  return s;
}

/** Every annotated path value in `data` (host paths only: guest paths of file-or-guest fields are left out). */
export function pathFields(schema: object, data: unknown, prefix = ''): PathField[] {
  const found = new Map<string, PathField>();
  const resolveRef = (ref: string): unknown => {
    if (!ref.startsWith('#/')) return undefined;
    return ref.slice(2).split('/').reduce<unknown>((s, k) => (isRecord(s) ? s[k.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined), schema);
  };
  const walk = (s: unknown, d: unknown, at: string, depth: number): void => {
    if (!isRecord(s) || depth > 64) return;
    if (typeof s.$ref === 'string') walk(resolveRef(s.$ref), d, at, depth + 1);
    const kind = s[PATH_KEYWORD];
    if (typeof d === 'string' && (kind === 'file' || kind === 'dir' || kind === 'file-or-guest')) {
      if (!(kind === 'file-or-guest' && GUEST.test(d))) found.set(at, { pointer: at, value: d, kind });
    }
    for (const k of ['anyOf', 'oneOf', 'allOf'] as const) {
      const branches = s[k];
      if (Array.isArray(branches)) for (const b of branches) walk(b, d, at, depth + 1);
    }
    if (Array.isArray(d) && s.items !== undefined) d.forEach((v, i) => walk(s.items, v, `${at}/${i}`, depth + 1));
    if (!isRecord(d)) return;
    const props = isRecord(s.properties) ? s.properties : {};
    const patterns = isRecord(s.patternProperties) ? Object.entries(s.patternProperties) : [];
    for (const [k, v] of Object.entries(d)) {
      const p = `${at}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      if (Object.hasOwn(props, k)) walk(props[k], v, p, depth + 1);
      else {
        const pattern = patterns.find(([re]) => new RegExp(re, 'u').test(k));
        walk(pattern ? pattern[1] : s.additionalProperties, v, p, depth + 1);
      }
    }
  };
  walk(schema, data, prefix, 0);
  return [...found.values()];
}

/** Whether `abs` lies outside `confine` (lexically: a bundle holds no links). Undefined confine: nothing is outside. */
export function outside(confine: string | undefined, abs: string): boolean {
  if (confine === undefined) return false;
  const rel = path.relative(confine, abs);
  return rel.startsWith('..') || path.isAbsolute(rel);
}

/** E_CONFINED for every host path of `data` (relative to `dir`) outside `confine`; nothing is read or stat()ed. */
export function confinementIssues(schema: object, data: unknown, dir: string, confine: string | undefined, prefix = ''): Issue[] {
  if (confine === undefined) return [];
  return pathFields(schema, data, prefix).flatMap((f) => {
    const abs = path.resolve(dir, f.value);
    if (!outside(confine, abs)) return [];
    return [{ path: f.pointer, code: 'E_CONFINED', message: `${subject(f.pointer, f.value)}: ${abs} is outside the bundle; a replayed bundle only touches its own files` }];
  });
}

/** A fileKind that never looks at a path outside `confine` (a bundle must not learn whether host files exist). */
export function confinedKind<K>(fileKind: (abs: string) => K, confine: string | undefined, outsideKind: K): (abs: string) => K {
  return confine === undefined ? fileKind : (abs) => (outside(confine, abs) ? outsideKind : fileKind(abs));
}

/** Confinement issues, plus the other issues except those about a confined value (E_CONFINED says it all). */
export function withConfinement(confined: readonly Issue[], others: readonly Issue[]): Issue[] {
  const at = new Set(confined.map((i) => i.path));
  // Also the issues under a confined value (a refused shares: list's host paths).
  return [...confined, ...others.filter((i) => !at.has(i.path) && !confined.some((c) => i.path.startsWith(`${c.path}/`)))];
}

/**
 * A replayed bundle's shares: are refused outright (they would name host directories, live ones), replacing the
 * E_CONFINED issues of their host paths. Undefined confine (not a replay): nothing.
 */
export function refuseReplayShares(data: unknown, confine: string | undefined, confined: readonly Issue[], prefix = ''): Issue[] {
  if (confine === undefined || data === null || typeof data !== 'object') return [...confined];
  const d = data as { nodes?: unknown; defaults?: unknown };
  const at: string[] = [];
  const has = (o: unknown) => o !== null && typeof o === 'object' && Array.isArray((o as { shares?: unknown }).shares) && ((o as { shares: unknown[] }).shares.length > 0);
  if (has(d.defaults)) at.push(`${prefix}/defaults/shares`);
  if (d.nodes !== null && typeof d.nodes === 'object') {
    for (const [name, n] of Object.entries(d.nodes as Record<string, unknown>)) if (has(n)) at.push(`${prefix}/nodes/${name.replaceAll('~', '~0').replaceAll('/', '~1')}/shares`);
  }
  const refused: Issue[] = at.map((p) => ({
    path: p,
    code: 'E_SHARES_REPLAY',
    message: 'shares: are refused in a replayed bundle: they name live host directories, which a bundle neither carries nor may reach; run the topology itself to use them',
  }));
  return [...refused, ...confined.filter((i) => !at.some((p) => i.path.startsWith(`${p}/`)))];
}
