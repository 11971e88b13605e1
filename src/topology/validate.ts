// Schema validation through Ajv, with Ajv's errors reworded for people and its anyOf cascades folded.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { describePath, pointer, subject, suggest, type Issue } from './diagnostics.js';
import { compileSchema, loadPrecompiled, precompiledName } from './schema-code.js';
import { durationProblem, parsePort, percentProblem, rateProblem, sizeProblem } from './values.js';

export const SCHEMA_URL = new URL('../../schemas/topology.schema.json', import.meta.url);

const compiled = new Map<string, ValidateFunction>();
// Schema object -> name of the $defs entry it belongs to. Ajv's schemaPath restarts at every
// separately compiled $ref, so identity of the (verbose) parentSchema is the reliable link.
const defOf = new WeakMap<object, string>();
const defRoots = new WeakSet<object>();

/** Where the build puts the precompiled validator of a schema (dist/schemas/NAME.validate.cjs). */
function precompiledPath(url: URL): string {
  return fileURLToPath(new URL(`../schemas/${precompiledName(basename(url.pathname))}`, import.meta.url));
}

/** Once per process and schema, on first use: the build's precompiled validator, else compiled now. */
function validator(url: URL): ValidateFunction {
  let fn = compiled.get(url.href);
  if (!fn) {
    const text = readFileSync(url, 'utf8');
    const v = loadPrecompiled(precompiledPath(url), text) ?? compileSchema(text);
    for (const [name, def] of Object.entries(v.defs)) {
      mark(def, name);
      defRoots.add(def);
    }
    fn = v.validate;
    compiled.set(url.href, fn);
  }
  return fn;
}

function mark(v: unknown, name: string): void {
  if (typeof v !== 'object' || v === null) return;
  defOf.set(v, name);
  for (const child of Object.values(v)) mark(child, name);
}

const PATTERN_HINTS: Record<string, string> = {
  name: "not a valid name; use lowercase letters, digits and '-', starting with a letter, at most 32 characters",
  endpoint: 'not an endpoint; write node:ethN (eth0..eth63) or a bare node name',
  cidr: 'not a CIDR address; write e.g. 10.0.12.1/24 or fd00::1/64',
  channel: "not a channel name; use lowercase letters, digits, '.', '_' and '-', starting with a letter, at most 64 characters",
};

// What a value of one of the shared kinds (by $defs name) should look like.
const DEF_PROBLEM: Record<string, (v: unknown) => string | undefined> = {
  size: sizeProblem,
  duration: durationProblem,
  rate: rateProblem,
  percent: percentProblem,
  port: (v) => {
    const r = parsePort(v);
    return 'problem' in r ? r.problem : undefined;
  },
};

const TYPE_WORDS: Record<string, string> = {
  integer: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'a map',
  array: 'a list',
  null: 'nothing',
};

function typeOf(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  return `${typeof v === 'number' ? 'a number' : typeof v === 'boolean' ? 'a boolean' : 'a string'}`;
}

function defName(e: ErrorObject): string | undefined {
  return typeof e.parentSchema === 'object' && e.parentSchema !== null ? defOf.get(e.parentSchema) : undefined;
}

function where(path: string): string {
  const d = describePath(path);
  return d === '' ? 'the top level' : d;
}

function withSubject(path: string, data: unknown, problem: string): string {
  const s = subject(path, data);
  return s === '' ? problem : `${s}: ${problem}`;
}

/** Fold anyOf: keep the branch that matches the value's type, or one "expected X" when none does. */
function foldAnyOf(errors: ErrorObject[]): ErrorObject[] {
  let list = errors;
  const anyOfs = list.filter((e) => e.keyword === 'anyOf').sort((a, b) => b.schemaPath.length - a.schemaPath.length);
  for (const a of anyOfs) {
    const prefix = `${a.schemaPath}/`;
    const inside = (e: ErrorObject) => e !== a && e.schemaPath.startsWith(prefix) && (e.instancePath === a.instancePath || e.instancePath.startsWith(`${a.instancePath}/`));
    const branches = new Map<string, ErrorObject[]>();
    for (const e of list) {
      if (!inside(e)) continue;
      const branch = e.schemaPath.slice(prefix.length).split('/')[0] ?? '';
      branches.set(branch, [...(branches.get(branch) ?? []), e]);
    }
    const mismatch = (errs: ErrorObject[]) => errs.some((e) => (e.keyword === 'type' || e.keyword === 'const') && e.instancePath === a.instancePath);
    const relevant = [...branches.values()].find((errs) => !mismatch(errs));
    const drop = new Set<ErrorObject>([...branches.values()].flat());
    if (relevant) for (const e of relevant) drop.delete(e);
    else {
      const words = [...branches.values()].flat().map((e) => (e.keyword === 'type' ? String(e.params.type) : e.keyword === 'const' ? JSON.stringify(e.params.allowedValue) : ''));
      const types = [...new Set(words.filter((w) => w !== ''))];
      a.params = { ...a.params, expected: types };
    }
    if (relevant) drop.add(a);
    list = list.filter((e) => !drop.has(e));
  }
  return list;
}

function toIssue(e: ErrorObject, rootHint: string): Issue | undefined {
  const p = e.instancePath;
  const def = defName(e);
  if (e.keyword === 'propertyNames') return undefined;
  if (e.propertyName !== undefined) {
    const kp = `${p}${pointer(e.propertyName)}`;
    const what = p === '/nodes' ? 'node name' : `${where(p)} name`;
    const hint = p === '/nodes' ? PATTERN_HINTS.name : 'fw_cfg names are letters, digits and . _ - / (not starting with /, at most 55 characters), e.g. opt/org.example/config';
    return { path: kp, at: 'key', code: 'E_SCHEMA_KEY', message: `${what} ${JSON.stringify(e.propertyName)}: ${hint}` };
  }
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(e.params.additionalProperty);
      const allowed = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const near = suggest(key, allowed);
      const extension = p === '' ? ' (and x-... keys for anchors)' : '';
      const fix = near ? `did you mean \`${near}\`?` : `allowed keys: ${allowed.join(', ')}${extension}`;
      return { path: `${p}${pointer(key)}`, at: 'key', code: 'E_UNKNOWN_KEY', message: `unknown key \`${key}\` in ${where(p)}; ${fix}` };
    }
    case 'required': {
      const key = String(e.params.missingProperty);
      const example = key === 'name' ? ' (e.g. name: lab)' : key === 'nodes' ? ' with at least one node' : key === 'endpoints' ? ', e.g. endpoints: [r1:eth1, r2:eth1]' : key === 'host' ? ' (a port number, or auto for a free one)' : '';
      const what = p === '' ? `missing required key \`${key}\` at the top level` : `${where(p)}: missing required key \`${key}\``;
      return { path: `${p}${pointer(key)}`, code: 'E_REQUIRED', message: `${what}; add it${example}` };
    }
    case 'anyOf': {
      const atRoot = typeof e.parentSchema === 'object' && e.parentSchema !== null && defRoots.has(e.parentSchema);
      const problem = atRoot && def && DEF_PROBLEM[def] ? DEF_PROBLEM[def](e.data) : undefined;
      const expected = ((e.params as { expected?: string[] }).expected ?? []).map((t) => TYPE_WORDS[t] ?? t);
      const message = problem ?? `expected ${expected.join(' or ') || 'another value'}, got ${typeOf(e.data)}`;
      return { path: p, code: 'E_SCHEMA_TYPE', message: withSubject(p, e.data, message) };
    }
    case 'type': {
      if (p === '') {
        const why = e.data === null || e.data === undefined ? 'the file is empty' : `the top level is ${typeOf(e.data)}`;
        return { path: p, code: 'E_SCHEMA_TYPE', message: `${why}; ${rootHint}` };
      }
      if (e.params.type === 'object' && e.data === null) {
        const seg = p.split('/');
        const fix = seg.length === 3 && seg[1] === 'nodes' ? `; write \`${seg[2] ?? ''}: {}\` to take all defaults` : '; write {} or remove the key';
        return { path: p, at: 'key', code: 'E_SCHEMA_TYPE', message: `${where(p)} is empty${fix}` };
      }
      const expected = TYPE_WORDS[String(e.params.type)] ?? String(e.params.type);
      return { path: p, code: 'E_SCHEMA_TYPE', message: withSubject(p, e.data, `expected ${expected}, got ${typeOf(e.data)}`) };
    }
    case 'enum':
    case 'const': {
      const allowed = (e.keyword === 'enum' ? (e.params.allowedValues as unknown[]) : [e.params.allowedValue]).map(String);
      const near = typeof e.data === 'string' ? suggest(e.data, allowed) : undefined;
      return { path: p, code: 'E_SCHEMA_ENUM', message: withSubject(p, e.data, `must be one of ${allowed.join(', ')}${near ? `; did you mean ${near}?` : ''}`) };
    }
    case 'pattern': {
      const problem = def && DEF_PROBLEM[def] ? DEF_PROBLEM[def](e.data) : def ? PATTERN_HINTS[def] : undefined;
      return { path: p, code: 'E_SCHEMA_PATTERN', message: withSubject(p, e.data, problem ?? 'has the wrong form') };
    }
    case 'minimum':
    case 'maximum': {
      const problem = def && DEF_PROBLEM[def] ? DEF_PROBLEM[def](e.data) : undefined;
      const bound = `must be ${e.keyword === 'minimum' ? 'at least' : 'at most'} ${String(e.params.limit)}`;
      return { path: p, code: 'E_SCHEMA_RANGE', message: withSubject(p, e.data, problem ?? bound) };
    }
    case 'minProperties':
      return { path: p, code: 'E_SCHEMA_EMPTY', message: `${where(p)} is empty; define at least one node` };
    case 'minItems':
      return { path: p, code: 'E_SCHEMA_ITEMS', message: `${where(p)}: needs at least ${String(e.params.limit)} items` };
    case 'minLength':
      return { path: p, code: 'E_SCHEMA_EMPTY', message: `${where(p)} must not be empty` };
    case 'maxProperties':
    case 'maxItems':
    case 'maxLength': {
      const n = e.keyword === 'maxLength' ? String(e.data).length : Array.isArray(e.data) ? e.data.length : Object.keys(e.data as object).length;
      const unit = e.keyword === 'maxLength' ? 'characters' : p === '/nodes' ? 'nodes' : p === '/links' ? 'links' : p.endsWith('/run') ? 'commands' : 'items';
      // Counts point at the key (the value is a long list); a long string at itself, where a rule may say more.
      const at = e.keyword === 'maxLength' ? 'value' : 'key';
      return { path: p, at, code: 'E_LIMIT', message: `${where(p)} has ${n.toLocaleString('en-US')} ${unit}; topo takes at most ${Number(e.params.limit).toLocaleString('en-US')}` };
    }
    case 'uniqueItems': {
      const j = Number(e.params.j);
      const dup = Array.isArray(e.data) ? e.data[j] : undefined;
      return { path: `${p}/${j}`, code: 'E_SCHEMA_UNIQUE', message: `${where(p)} lists ${JSON.stringify(dup)} twice; remove the duplicate` };
    }
    default:
      return { path: p, code: `E_SCHEMA_${e.keyword.toUpperCase()}`, message: withSubject(p, e.data, e.message ?? 'is not valid') };
  }
}

export interface SchemaChoice {
  url: URL;
  /** What the top level should be, for an empty file or a scalar document. */
  rootHint: string;
}

const TOPOLOGY_SCHEMA: SchemaChoice = { url: SCHEMA_URL, rootHint: 'a topology is a map with at least `name` and `nodes`' };

/** Schema problems as positionless issues; empty when the document has the right shape. */
export function checkSchema(data: unknown, schema: SchemaChoice = TOPOLOGY_SCHEMA): Issue[] {
  const validate = validator(schema.url);
  if (validate(data)) return [];
  const issues: Issue[] = [];
  for (const e of foldAnyOf([...(validate.errors ?? [])])) {
    const issue = toIssue(e, schema.rootHint);
    if (issue) issues.push(issue);
  }
  return issues;
}

/** Schema and rule issues together: where a rule speaks about a path, its specific wording wins. */
export function mergeIssues(schema: readonly Issue[], rules: readonly Issue[]): Issue[] {
  const ruled = new Set(rules.map((i) => i.path));
  // Key-level schema problems (unknown key, bad name) are about the key, not the value a rule judged.
  const overridden = (s: Issue) => s.at !== 'key' && ruled.has(s.path);
  const seen = new Set<string>();
  const out: Issue[] = [];
  for (const i of [...schema.filter((s) => !overridden(s)), ...rules]) {
    const key = `${i.path}\n${i.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(i);
  }
  return out;
}
