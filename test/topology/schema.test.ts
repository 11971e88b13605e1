// Schema errors: readable wording, one message per problem, positions on the offending node.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorsOf } from './helpers.js';

describe('schema diagnostics', () => {
  it('points an unknown key at the key and suggests the near one', () => {
    const [e, ...rest] = errorsOf('name: lab\nnodes:\n  r1:\n    memroy: 256M\n');
    expect(rest).toEqual([]);
    expect(e).toMatchObject({ line: 4, column: 5, path: '/nodes/r1/memroy', code: 'E_UNKNOWN_KEY' });
    expect(e?.message).toBe('unknown key `memroy` in node r1; did you mean `memory`?');
  });

  it('lists allowed keys when nothing is close', () => {
    const [e] = errorsOf('name: lab\nnodes: { r1: {} }\nzzz: 1\n');
    expect(e?.message).toBe('unknown key `zzz` in the top level; allowed keys: name, seed, defaults, nodes, links (and x-... keys for anchors)');
  });

  it('points a bad value at the value', () => {
    const [e] = errorsOf('name: lab\nnodes:\n  r1:\n    memory: 12Q\n');
    expect(e).toMatchObject({ line: 4, column: 13, path: '/nodes/r1/memory' });
    expect(e?.message).toBe('node r1 memory "12Q": not a size; use an integer MiB or a string like 256M or 2G');
  });

  it('points a missing required key at the parent map', () => {
    const [e] = errorsOf('name: lab\nnodes: { r1: {} }\nlinks:\n  - mtu: 1500\n');
    expect(e).toMatchObject({ line: 4, column: 5, code: 'E_REQUIRED' });
    expect(e?.message).toContain('link 1: missing required key `endpoints`');
  });

  it('folds anyOf cascades into one message per value', () => {
    const errs = errorsOf('name: lab\nnodes:\n  r1:\n    ports: [true, "x", { guest: 1, host: nope }]\n    memory: [1]\n');
    expect(errs.map((e) => e.message)).toEqual([
      'node r1 port true: not a port forward; write a port number, "HOST:GUEST" or {guest, host}',
      'node r1 port "x": not a port forward; write "HOST:GUEST" (optionally "/udp"), a port number, or {guest, host}',
      'node r1 port 3 host "nope": expected an integer or "auto", got a string',
      'node r1 memory: not a size; use an integer MiB or a string like 256M or 2G',
    ]);
  });

  it('never leaks Ajv jargon', () => {
    const errs = errorsOf('name: 1\nnodes: { Bad: 1, r1: { kind: x, cpus: 1.5, run: [1] } }\nlinks: [{ endpoints: [a], mtu: "x", impair: { delay: true } }]\n');
    expect(errs.length).toBeGreaterThan(5);
    for (const e of errs) expect(e.message).not.toMatch(/must match|must be equal|must NOT|schema/);
  });

  it('reports YAML syntax errors, tabs and duplicate keys with positions', () => {
    expect(errorsOf('name: lab\nnodes: [r1\n')[0]?.code).toMatch(/^E_YAML_/);
    expect(errorsOf('name: lab\nnodes:\n\tr1: {}\n')[0]).toMatchObject({ line: 3, column: 1, code: 'E_YAML_TAB_AS_INDENT' });
    const dup = errorsOf('name: lab\nname: lab2\nnodes: { r1: {} }\n');
    expect(dup).toHaveLength(1);
    expect(dup[0]).toMatchObject({ line: 2, column: 1, code: 'E_YAML_DUPLICATE_KEY' });
    expect(dup[0]?.message).toContain('duplicate key `name`');
  });

  it('still checks the rest of a file with a duplicate key', () => {
    const errs = errorsOf('name: lab\nnodes:\n  r1: { cpus: 1, cpus: 2, kind: vm }\n');
    expect(errs.map((e) => e.code)).toEqual(['E_YAML_DUPLICATE_KEY', 'E_SCHEMA_ENUM']);
  });

  it('ships a draft 2020-12 schema with a description on every property', () => {
    const schema = JSON.parse(readFileSync('schemas/topology.schema.json', 'utf8')) as Record<string, unknown>;
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$id).toBeTypeOf('string');
    const missing: string[] = [];
    const walk = (v: unknown, at: string) => {
      if (typeof v !== 'object' || v === null) return;
      const o = v as Record<string, unknown>;
      if (o.properties && typeof o.properties === 'object') {
        for (const [k, p] of Object.entries(o.properties)) if (!(p as { description?: string }).description) missing.push(`${at}/${k}`);
      }
      if ('properties' in o || o.type === 'object') expect(o.additionalProperties, at).not.toBe(undefined);
      for (const [k, c] of Object.entries(o)) walk(c, `${at}/${k}`);
    };
    walk(schema, '#');
    expect(missing).toEqual([]);
  });
});
