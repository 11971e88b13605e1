import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

const FIXTURES = 'test/fixtures/invalid';
const fixtures = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

interface Expectation {
  line: number;
  column: number;
  text: string;
}

function expectations(file: string): Expectation[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((l) => {
      const m = /^# expect: (\d+):(\d+) (.+)$/.exec(l);
      return m ? [{ line: Number(m[1]), column: Number(m[2]), text: m[3] as string }] : [];
    });
}

describe('invalid fixtures through `topo validate`', () => {
  it('has at least 40 fixtures, each with expectations', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(40);
    for (const f of fixtures) expect(expectations(path.join(FIXTURES, f)).length, f).toBeGreaterThan(0);
  });

  it.each(fixtures)('%s', async (name) => {
    const file = path.join(FIXTURES, name);
    const want = expectations(file);
    const res = await runCli('validate', file);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    const lines = res.stderr.trimEnd().split('\n');
    // Every problem once, nothing more: no Ajv cascades, no stack traces.
    expect(lines).toHaveLength(want.length);
    want.forEach((w, i) => {
      const line = lines[i] ?? '';
      expect(line.startsWith(`${file}:${w.line}:${w.column}: error: `), `${line}\n  wanted ${w.line}:${w.column}`).toBe(true);
      expect(line).toContain(w.text);
    });
    expect(res.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('topo validate', () => {
  it('prints FILE: ok with counts for a valid file', async () => {
    const res = await runCli('validate', 'topologies/triangle.yaml');
    expect(res).toEqual({ code: 0, stdout: 'topologies/triangle.yaml: ok (3 nodes, 3 links)\n', stderr: '' });
  });

  it('reports every file and exits 1 when any is invalid', async () => {
    const bad = path.join(FIXTURES, 'bad-kind.yaml');
    const res = await runCli('validate', 'topologies/pair.yaml', bad);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('topologies/pair.yaml: ok');
    expect(res.stderr).toContain(`${bad}:`);
  });

  it('--json prints one object for one file', async () => {
    const bad = path.join(FIXTURES, 'several-errors.yaml');
    const res = await runCli('validate', '--json', bad);
    expect(res.code).toBe(1);
    expect(res.stderr).toBe('');
    const report = JSON.parse(res.stdout) as { file: string; valid: boolean; errors: Record<string, unknown>[] };
    expect(report.file).toBe(bad);
    expect(report.valid).toBe(false);
    expect(report.errors).toHaveLength(4);
    expect(Object.keys(report.errors[0] ?? {}).sort()).toEqual(['column', 'line', 'message', 'path']);
    expect(report.errors[0]).toMatchObject({ line: 8, column: 11, path: '/nodes/r1/cpus' });
  });

  it('--json prints an array for several files', async () => {
    const res = await runCli('validate', '--json', 'topologies/pair.yaml', 'topologies/lan.yaml');
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual([
      { file: 'topologies/pair.yaml', valid: true, errors: [] },
      { file: 'topologies/lan.yaml', valid: true, errors: [] },
    ]);
  });

  it('exits 2 with one line for a missing file', async () => {
    const res = await runCli('validate', 'no/such/file.yaml');
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^no\/such\/file\.yaml: error: cannot read: ENOENT[^\n]*\n$/);
  });

  it('exits 2 for a missing file even next to an invalid one', async () => {
    const res = await runCli('validate', path.join(FIXTURES, 'bad-kind.yaml'), 'nope.yaml');
    expect(res.code).toBe(2);
  });

  it('exits 2 on a usage error', async () => {
    const res = await runCli('validate');
    expect(res.code).toBe(2);
  });
});

describe('bounded input through `topo validate`', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'topo-validate-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const bomb = (items: number) =>
    [
      'name: bomb',
      'nodes:',
      `  n0: { run: &big [${new Array<string>(items).fill('echo 1').join(', ')}] }`,
      ...Array.from({ length: 999 }, (_, i) => `  n${i + 1}: { run: *big }`),
      '',
    ].join('\n');

  it('stops an alias bomb at the expansion bound', async () => {
    const file = path.join(dir, 'bomb.yaml');
    writeFileSync(file, bomb(50_000));
    const res = await runCli('validate', file);
    expect(res.code).toBe(1);
    // name plus 50,000 values written once, then 50,000 more per alias: n19 (line 22) passes 1,000,000.
    expect(res.stderr).toBe(
      `${file}:22:15: error: the file holds more than 1,000,000 YAML values once aliases are expanded (alias *big here adds 50,000 values, 293.0 KiB); alias less, or alias smaller data\n`,
    );
  });

  it('stops the reported 2.4 MB alias bomb (300,000 items aliased 999 times) before parsing it', async () => {
    const file = path.join(dir, 'bomb-2m.yaml');
    writeFileSync(file, bomb(300_000));
    const res = await runCli('validate', file);
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(`${file}:1:1: error: the file is 2.3 MiB; topo reads topology files up to 1.0 MiB\n`);
  });

  it('keeps every diagnostic on one line whatever the file name and values hold', async () => {
    const sub = path.join(dir, 'a\nb\u001b[2J');
    mkdirSync(sub);
    const file = path.join(sub, 'lab.yaml');
    writeFileSync(file, 'name: lab\nnodes:\n  r1:\n    ready: { console: "line\\none\\u001b[31m(" }\n    depends_on: ["x\\ty\\r"]\n');
    const res = await runCli('validate', file);
    expect(res.code).toBe(1);
    const lines = res.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l).toMatch(/^[^\n\r\u001b]+a\\nb\\u001b\[2J\/lab\.yaml:\d+:\d+: error: /);
    expect(res.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
  });

  it('keeps the unreadable-file line on one line too', async () => {
    const res = await runCli('validate', path.join(dir, 'no\nsuch.yaml'));
    expect(res.code).toBe(2);
    expect(res.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(res.stderr).toContain('no\\nsuch.yaml: error: cannot read: ENOENT');
  });
});
