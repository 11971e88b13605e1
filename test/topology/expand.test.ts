// Aliases, merge keys, x- keys and the bounds on what a file expands to.
import { describe, expect, it } from 'vitest';
import { validateText } from '../../src/topology/index.js';
import { LIMITS } from '../../src/topology/limits.js';
import { errorsOf, resolved } from './helpers.js';

describe('merge keys and x- keys', () => {
  it('merges an anchored map from an x- key; own keys win', () => {
    const t = resolved(`
      name: lab
      x-base: &base { memory: 512M, cpus: 2, run: [echo base] }
      nodes:
        r1: { <<: *base, cpus: 4 }
        r2:
          <<: *base
    `);
    expect(t.nodes.map((n) => [n.name, n.memoryMiB, n.cpus, n.run])).toEqual([
      ['r1', 512, 4, ['echo base']],
      ['r2', 512, 2, ['echo base']],
    ]);
  });

  it('merges a list of maps, the first one winning', () => {
    const t = resolved(`
      name: lab
      x-small: &small { memory: 128M }
      x-big: &big { memory: 1G, cpus: 8 }
      nodes:
        r1: { <<: [*small, *big] }
    `);
    expect(t.nodes[0]).toMatchObject({ memoryMiB: 128, cpus: 8 });
  });

  it('x- keys hold anything and stay out of the model', () => {
    const t = resolved('name: lab\nx-anything: { deep: [1, { two: 2 }] }\nnodes: { r1: {} }\n');
    expect(Object.keys(t)).not.toContain('x-anything');
  });

  it('points a problem in a merged value at where the value is written', () => {
    const errs = errorsOf(`
      name: lab
      x-base: &base
        memory: 12Q
      nodes:
        r1: { <<: *base }
    `);
    expect(errs.map((e) => [e.line, e.column, e.message.split(':')[0]])).toEqual([[3, 11, 'node r1 memory "12Q"']]);
  });

  it('points a problem inside an aliased map at the anchored value', () => {
    const errs = errorsOf('name: lab\nx-d: &d\n  cpus: 0\ndefaults: *d\nnodes: { r1: {} }\n');
    expect(errs.map((e) => `${e.line}:${e.column} ${e.message}`)).toEqual(['3:9 defaults cpus 0: must be at least 1']);
  });

  it('keeps __proto__ a plain key', () => {
    const errs = errorsOf('name: lab\nnodes: { r1: { __proto__: { cpus: 2 } } }\n');
    expect(errs.map((e) => e.message)).toEqual(['unknown key `__proto__` in node r1; allowed keys: kind, cpus, memory, kernel, initrd, cmdline, console, disk, tpm, firmware, fw_cfg, host_network, ports, ready, run, packages, files, shares, channels, depends_on, restart, allow_reboot, persist']);
  });
});

describe('bounds', () => {
  it('stops at the alias that takes the expansion past the bound', () => {
    const list = new Array<string>(10_000).fill('x').join(', ');
    const text = ['name: lab', `x-big: &big [${list}]`, 'nodes:', ...Array.from({ length: 200 }, (_, i) => `  n${i}: { run: *big }`), ''].join('\n');
    const res = validateText(text, '/lab/t.yaml');
    expect(res.ok).toBe(false);
    const [d] = res.ok ? [] : res.diagnostics;
    // name + 10,000 written, then 10,000 per alias: the 99th (n98, line 102) passes 1,000,000.
    expect(d).toMatchObject({ line: 102, column: 15, code: 'E_LIMIT_VALUES' });
    expect(d?.message).toMatch(/^the file holds more than 1,000,000 YAML values once aliases are expanded \(alias \*big here adds 10,000 values/);
  });

  it('bounds the expanded text', () => {
    const text = `name: lab\nx-s: &s "${'y'.repeat(400_000)}"\nnodes:\n  r1: { run: [${new Array(100).fill('*s').join(', ')}] }\n`;
    const res = validateText(text, '/lab/t.yaml');
    expect(res.ok ? [] : res.diagnostics.map((d) => [d.code, d.message.split(' once')[0]])).toEqual([['E_LIMIT_BYTES', 'the file holds more than 32.0 MiB of text']]);
  });

  it('bounds the file size', () => {
    const res = validateText(`name: lab\n# ${'z'.repeat(LIMITS.fileBytes)}\nnodes: { r1: {} }\n`, '/lab/t.yaml');
    expect(res.ok ? [] : res.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`)).toEqual(['1:1 the file is 1.0 MiB; topo reads topology files up to 1.0 MiB']);
  });

  it('bounds nesting depth', () => {
    const deep = `${'['.repeat(100)}${']'.repeat(100)}`;
    const errs = errorsOf(`name: lab\nx-deep: ${deep}\nnodes: { r1: {} }\n`);
    expect(errs.map((e) => [e.code, e.line])).toEqual([['E_LIMIT_DEPTH', 2]]);
  });

  it('rejects an alias inside its own anchor', () => {
    const errs = errorsOf('name: lab\nx-loop: &l [1, *l]\nnodes: { r1: {} }\n');
    expect(errs.map((e) => `${e.line}:${e.column} ${e.code}`)).toEqual(['2:16 E_YAML_ALIAS_CYCLE']);
  });

  it('bounds nodes, links and run commands with counts', () => {
    const nodes = Array.from({ length: LIMITS.nodes + 1 }, (_, i) => `  n${i}: {}`);
    const many = errorsOf(['name: lab', 'nodes:', ...nodes, ''].join('\n'));
    expect(many.map((e) => `${e.line}:${e.column} ${e.message}`)).toEqual(['2:1 nodes has 4,097 nodes; topo takes at most 4,096']);

    const runs = errorsOf(`name: lab\nnodes:\n  r1:\n    run: [${new Array(LIMITS.runCommands + 1).fill('echo').join(', ')}]\n`);
    expect(runs.map((e) => `${e.line}:${e.column} ${e.message}`)).toEqual(['4:5 node r1 run has 1,025 commands; topo takes at most 1,024']);

    const links = errorsOf(`name: lab\nnodes: { a: {}, b: {} }\nx-l: &l { endpoints: [a, b] }\nlinks: [${new Array(LIMITS.links + 1).fill('*l').join(', ')}]\n`);
    expect(links.filter((e) => e.code === 'E_LIMIT').map((e) => e.message)).toEqual(['links has 16,385 links; topo takes at most 16,384']);
  });
});
