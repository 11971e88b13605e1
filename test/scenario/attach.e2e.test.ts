// `topo test FILE --attach LAB` on real QEMU (issue 20): a scenario iterated on a detached lab, twice, without a
// reboot in between (a guest file the first run left is there for the second), then a failing one; the lab stays up.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, topo } from '../helpers/cli.js';

let base: string;
const run = (args: string[]) => topo(args, { TOPO_RUN_DIR: path.join(base, 'run') });
const pair = path.join(repoRoot, 'topologies/pair.yaml');

interface PsLab {
  lab: string;
  pid: number;
  nodes: { name: string; pid: number; restarts: number; state: string }[];
}
const ps = async (): Promise<PsLab[]> => JSON.parse((await run(['ps', '--json'])).stdout) as PsLab[];
const junit = async (file: string) =>
  new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (n) => ['testsuite', 'testcase', 'property'].includes(n) }).parse(await readFile(file, 'utf8')) as {
    testsuites: { failures: string; testsuite: { properties: { property: { name: string; value: string }[] }; testcase: { name: string; 'system-out'?: string; failure?: { message: string } }[] }[] };
  };

beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-attach-e2e-'));
  const up = await run(['up', '--detach', pair, '--accel', 'tcg']);
  expect(up.exitCode, up.all).toBe(0);
}, 300_000);

afterAll(async () => {
  await run(['down', '--all']);
  await rm(base, { recursive: true, force: true });
});

describe('topo test --attach on a detached lab', () => {
  it('runs a scenario twice on the running lab (no reboot), then a failing one: exit 1 and JUnit; the lab stays up', async () => {
    const file = path.join(base, 'iterate.scenario.yaml');
    await writeFile(
      file,
      [
        'name: iterate on pair',
        `topology: ${pair}`,
        'timeout: 180s',
        'steps:',
        '  - exec: { node: a, cmd: hostname, expect: { stdout: "^a$" } }',
        '  - exec: { node: a, cmd: "ping -c1 -W2 10.0.0.2", retry: { timeout: 60s, interval: 1s } }',
        '  - name: count the runs in a guest file',
        '    exec: { node: b, cmd: "echo run >> /tmp/attach-runs; wc -l < /tmp/attach-runs" }',
        '',
      ].join('\n'),
    );
    const before = await ps();
    expect(before.map((l) => l.lab)).toEqual(['pair']);
    for (const n of [1, 2]) {
      const xml = path.join(base, `run${n}.xml`);
      const r = await run(['test', file, '--attach', 'pair', '--junit', xml]);
      expect(r.exitCode, r.all).toBe(0);
      expect(r.stdout).toMatch(/on lab pair, seed \d+, 3 steps\)/);
      expect(r.stdout).toMatch(/passed: 3\/3 steps/);
      expect(r.stderr).toMatch(/lab pair is still up; the steps left no link, impairment or node changed/);
      const doc = await junit(xml);
      expect(doc.testsuites.testsuite[0]!.properties.property).toContainEqual({ name: 'attached', value: 'pair' });
      // The second run finds the file the first one wrote: the same guests, not rebooted ones.
      expect(String(doc.testsuites.testsuite[0]!.testcase[2]!['system-out'])).toBe(String(n));
    }
    const after = await ps();
    expect(after.map((l) => [l.pid, l.nodes.map((n) => [n.name, n.pid, n.restarts, n.state])])).toEqual(before.map((l) => [l.pid, l.nodes.map((n) => [n.name, n.pid, n.restarts, n.state])]));
    // The lab's journal: each node became ready once, at `up`.
    const events = (await run(['events', 'pair', '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; node?: string; state?: string });
    expect(events.filter((e) => e.type === 'node' && e.state === 'ready').map((e) => e.node).sort()).toEqual(['a', 'b']);

    const failing = path.join(base, 'failing.scenario.yaml');
    await writeFile(failing, ['name: failing on pair', `topology: ${pair}`, 'timeout: 120s', 'steps:', '  - exec: { node: b, cmd: "test -e /nonexistent" }', '  - exec: { node: a, cmd: "true" }', ''].join('\n'));
    const xml = path.join(base, 'failing.xml');
    const r = await run(['test', failing, '--attach', 'pair', '--junit', xml, '--bundle', path.join(base, 'bundles')]);
    expect(r.exitCode, r.all).toBe(1);
    expect(r.stdout).toMatch(/FAIL {2}1\. b: test -e \/nonexistent/);
    expect(r.stdout).toMatch(/exit code 1, expected 0/);
    expect(r.stdout).toMatch(/SKIP {2}2\./);
    expect(r.stdout).toMatch(/bundle: .*bundles\/failing-on-pair-.*\.tar\.gz/);
    const doc = await junit(xml);
    expect(doc.testsuites.failures).toBe('1');
    expect(doc.testsuites.testsuite[0]!.testcase[0]!.failure?.message).toBe('exit code 1, expected 0');
    expect((await ps()).map((l) => l.lab)).toEqual(['pair']);

    const down = await run(['down', 'pair']);
    expect(down.exitCode, down.all).toBe(0);
    expect(await ps()).toEqual([]);
  }, 400_000);
});
