// The build's precompiled validators must judge every document exactly as Ajv compiling the schema at run time does.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ErrorObject } from 'ajv';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { mulberry32 } from '../../src/net/rng.js';
import { compileSchema, loadPrecompiled, validatorSource, type SchemaValidator } from '../../src/topology/schema-code.js';

// Inside the repository: the generated code requires Ajv's runtime helpers from node_modules, as dist/ does.
mkdirSync('node_modules/.cache', { recursive: true });
const dir = mkdtempSync(path.resolve('node_modules/.cache/topo-schema-code-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const VALUES: unknown[] = [null, 0, -1, 1.5, 65536, '', 'x', 'r1:eth0', 'eth99', '10.0.0.1/24', '150%', '20mbps', '40sec', '5s', [], [1, 'a'], {}, { a: 1 }, true, 'auto'];

const yamlIn = (d: string) => readdirSync(d).filter((f) => f.endsWith('.yaml')).map((f) => parse(readFileSync(path.join(d, f), 'utf8')) as unknown);
const CORPUS = { topology: yamlIn('topologies'), scenario: yamlIn('topologies/scenarios') };

/** A copy of `doc` with one value somewhere in it replaced, removed, or given a stray key. */
function mutate(doc: unknown, rnd: () => number): unknown {
  const copy = structuredClone(doc) as Record<string, unknown>;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  let at: Record<string, unknown> = copy;
  for (let depth = 0; depth < 6; depth++) {
    const keys = Object.keys(at);
    if (keys.length === 0) break;
    const k = pick(keys);
    const v = at[k];
    if (typeof v === 'object' && v !== null && rnd() < 0.7) at = v as Record<string, unknown>;
    else {
      const op = Math.floor(rnd() * 3);
      if (op === 0) at[k] = pick(VALUES);
      else if (op === 1) delete at[k];
      else at[`${k}x`] = pick(VALUES);
      break;
    }
  }
  return copy;
}

/** What an error says and which `$defs` entry it came from: everything the rewording reads. */
function judged(v: SchemaValidator, doc: unknown): unknown[] {
  const defOf = new Map<object, string>();
  const mark = (o: unknown, name: string): void => {
    if (typeof o !== 'object' || o === null) return;
    defOf.set(o, name);
    Object.values(o).forEach((c) => mark(c, name));
  };
  Object.entries(v.defs).forEach(([name, d]) => mark(d, name));
  v.validate(doc);
  return (v.validate.errors ?? []).map((e: ErrorObject) => ({
    instancePath: e.instancePath,
    schemaPath: e.schemaPath,
    keyword: e.keyword,
    params: e.params,
    propertyName: e.propertyName,
    message: e.message,
    def: typeof e.parentSchema === 'object' ? defOf.get(e.parentSchema) : undefined,
    parentSchema: e.parentSchema,
  }));
}

describe.each(Object.entries(CORPUS))('precompiled %s validator', (name, docs) => {
  const text = readFileSync(`schemas/${name}.schema.json`, 'utf8');
  const file = path.join(dir, `${name}.validate.cjs`);
  writeFileSync(file, validatorSource(text));

  it('gives the same errors, from the same $defs, as compiling at run time, on 400 mangled documents', () => {
    const pre = loadPrecompiled(file, text);
    expect(pre).toBeDefined();
    const now = compileSchema(text);
    const rnd = mulberry32(7);
    let failing = 0;
    for (let i = 0; i < 400; i++) {
      const doc = mutate(docs[i % docs.length], rnd);
      const expected = judged(now, doc);
      if (expected.length > 0) failing++;
      expect(judged(pre!, doc)).toEqual(expected);
    }
    // The corpus must actually exercise errors, not only valid documents.
    expect(failing).toBeGreaterThan(100);
  });

  it('is not used for a schema that changed since the build, nor when missing', () => {
    expect(loadPrecompiled(file, `${text} `)).toBeUndefined();
    expect(loadPrecompiled(path.join(dir, 'missing.validate.cjs'), text)).toBeUndefined();
  });
});

describe('the built CLI', () => {
  it('checks files with the precompiled validators: Ajv itself is never loaded', () => {
    // dist/ is what bin/topo runs; scripts/setup.sh (and npm ci) build it.
    const probe = `const m = await import('./dist/topology/validate.js');
      const s = await import('./dist/scenario/load.js');
      const bad = m.checkSchema({ name: 'x', nodes: { a: { memory: '12 parsecs' } } });
      const { createRequire } = await import('node:module');
      const cache = Object.keys(createRequire(import.meta.url).cache);
      console.log(JSON.stringify({ bad: bad.map((i) => i.code), scenario: typeof s.loadScenario, ajv: cache.some((k) => k.includes('/ajv/dist/core.js')), runtime: cache.some((k) => k.includes('/ajv/dist/runtime/')) }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ bad: ['E_SCHEMA_PATTERN'], scenario: 'function', ajv: false, runtime: true });
  });
});
