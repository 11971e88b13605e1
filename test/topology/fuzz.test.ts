// Seeded fuzzing: mangled examples and YAML-ish garbage must give diagnostics, never a throw.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { toDot, toJson, toMermaid, validateText } from '../../src/topology/index.js';
import { mulberry32 } from '../../src/net/rng.js';
import { runCli } from '../cli/run-cli.js';


const examples = readdirSync('topologies')
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => readFileSync(path.join('topologies', f), 'utf8'));
const ALPHABET = [...'abcr1234567890:-_ \n\t[]{}"\'&*!%/.,#|>?@`~=', 'eth', 'eth0', 'eth64', 'r1', 'null', '~', '---', '- ', ': ', '\n  ', '<<: *a', '&a '];
const VALUES: unknown[] = [null, 0, -1, 1.5, 65536, 1e21, '', 'x', 'r1', 'r1:eth1', 'r1:eth0', 'eth99', '10.0.0.1/24', 'fd00::1/129', '150%', '20mbps', '40sec', '(', [], [1, 'a'], {}, { a: 1 }, true, 'auto', '__proto__', 'constructor'];

function mutateText(src: string, rnd: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  let s = src;
  const ops = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < ops; i++) {
    const at = Math.floor(rnd() * (s.length + 1));
    const op = Math.floor(rnd() * 6);
    if (op === 0) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rnd() * 8));
    else if (op === 1) s = s.slice(0, at) + pick(ALPHABET) + s.slice(at);
    else if (op === 2) s = s.slice(0, at);
    else if (op === 3) {
      const lines = s.split('\n');
      const l = Math.floor(rnd() * lines.length);
      lines.splice(l, 0, lines[Math.floor(rnd() * lines.length)] ?? '');
      s = lines.join('\n');
    } else if (op === 4) {
      const lines = s.split('\n');
      const a = Math.floor(rnd() * lines.length);
      const b = Math.floor(rnd() * lines.length);
      [lines[a], lines[b]] = [lines[b] ?? '', lines[a] ?? ''];
      s = lines.join('\n');
    } else s = s.slice(0, at) + JSON.stringify(pick(VALUES)) + s.slice(at);
  }
  return s;
}

/** Structure-aware: replace one value somewhere in the parsed example, then print it back as YAML. */
function mutateTree(src: string, rnd: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const doc = parse(src) as Record<string, unknown>;
  let cur: unknown = doc;
  for (let depth = 0; depth < 6 && typeof cur === 'object' && cur !== null; depth++) {
    const keys = Object.keys(cur);
    if (keys.length === 0) break;
    const k = pick(keys);
    const child = (cur as Record<string, unknown>)[k];
    if (rnd() < 0.35 || typeof child !== 'object' || child === null) {
      const v = structuredClone(pick(VALUES));
      if (rnd() < 0.2) delete (cur as Record<string, unknown>)[k];
      else (cur as Record<string, unknown>)[rnd() < 0.15 ? pick(['memroy', 'kind', 'ports', 'depends_on', 'eth', 'endpoints']) : k] = v;
      break;
    }
    cur = child;
  }
  return stringify(doc);
}

function garbage(rnd: () => number): string {
  let s = '';
  const n = Math.floor(rnd() * 120);
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(rnd() * ALPHABET.length)];
  return s;
}

function checkNoThrow(text: string): boolean {
  const res = validateText(text, '/fuzz/topo.yaml', { fileExists: () => true });
  if (res.ok) {
    expect(Object.isFrozen(res.topology)).toBe(true);
    toDot(res.topology);
    toMermaid(res.topology);
    toJson(res.topology);
  } else {
    expect(res.diagnostics.length).toBeGreaterThan(0);
    for (const d of res.diagnostics) {
      expect(d.line).toBeGreaterThanOrEqual(1);
      expect(d.column).toBeGreaterThanOrEqual(1);
      if (!/undefined|\[object/.test(text)) expect(d.message).not.toMatch(/undefined|\[object Object\]/);
    }
  }
  return res.ok;
}

describe('fuzz', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'topo-fuzz-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('text mutations and truncations of the examples never throw', () => {
    const rnd = mulberry32(0xc0ffee);
    for (let i = 0; i < 300; i++) {
      const src = examples[i % examples.length] as string;
      const text = mutateText(src, rnd);
      try {
        checkNoThrow(text);
      } catch (err) {
        throw new Error(`iteration ${i} failed on:\n${text}\n${String(err)}`);
      }
    }
  });

  it('structural mutations never throw', () => {
    const rnd = mulberry32(42);
    for (let i = 0; i < 300; i++) {
      const text = mutateTree(examples[i % examples.length] as string, rnd);
      try {
        checkNoThrow(text);
      } catch (err) {
        throw new Error(`iteration ${i} failed on:\n${text}\n${String(err)}`);
      }
    }
  });

  it('random YAML-ish garbage never throws', () => {
    const rnd = mulberry32(7);
    for (let i = 0; i < 200; i++) {
      const text = garbage(rnd);
      try {
        checkNoThrow(text);
      } catch (err) {
        throw new Error(`iteration ${i} failed on:\n${JSON.stringify(text)}\n${String(err)}`);
      }
    }
  });

  it('the CLI exits 0 or 1 on mutated files', async () => {
    const rnd = mulberry32(1234);
    for (let i = 0; i < 40; i++) {
      const file = path.join(dir, `f${i}.yaml`);
      const src = examples[i % examples.length] as string;
      writeFileSync(file, i % 2 ? mutateText(src, rnd) : mutateTree(src, rnd));
      const res = await runCli('validate', file);
      expect([0, 1], `${file}: ${res.stderr}`).toContain(res.code);
      expect(res.stderr).not.toMatch(/internal error|\n\s+at /);
    }
  });
});
