// `topo test` as CI runs it, on real QEMU: the repository's scenarios, a failing scenario, its bundle and replay.
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ctrlC, repoRoot, topo, waitForOutput } from '../helpers/cli.js';
import { listFiles } from '../../src/scenario/bundle.js';

const PACKAGE_SCENARIOS = ['frr-ospf.scenario.yaml', 'iperf.scenario.yaml'];
let base: string;
// Each run's labs live in the test's own run directory base: no clash with labs of the same name elsewhere.
const run = (args: string[], opts: { group?: boolean } = {}) => topo(args, { TOPO_RUN_DIR: path.join(base, 'run') }, opts);
beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-scenario-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

const parseJunit = (xml: string) => new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (n) => ['testsuite', 'testcase'].includes(n) }).parse(xml);

describe('topo test', () => {
  it("runs the repository's scenarios", async () => {
    const dir = path.join(repoRoot, 'topologies/scenarios');
    // The package examples (FRR, iperf3) build a layer and run longer: packages.e2e.test.ts runs them.
    const files = (await readdir(dir)).filter((f) => !PACKAGE_SCENARIOS.includes(f)).map((f) => path.join('topologies/scenarios', f));
    const junit = path.join(base, 'repo.xml');
    const res = await run(['test', ...files, '--junit', junit, '--bundle', path.join(base, 'repo-bundles')]);
    expect(res.all).not.toMatch(/FAIL/);
    expect(res.exitCode).toBe(0);
    const doc = parseJunit(await readFile(junit, 'utf8'));
    expect(doc.testsuites.testsuite).toHaveLength(files.length);
    // The LAN's capture is in its bundle, not left in the repository.
    const lan = (await readdir(path.join(base, 'repo-bundles'))).find((f) => f.startsWith('lan-segment'));
    const lanFiles: string[] = [];
    await tar.t({ file: path.join(base, 'repo-bundles', lan!), onReadEntry: (e) => void lanFiles.push(e.path) });
    expect(lanFiles).toContain('captures/l1.pcap');
    await expect(stat(path.join(repoRoot, 'captures/lan'))).rejects.toThrow();
    // Six scenarios, each booting its own lab under TCG on a shared machine: more than one e2e test's default.
  }, 900_000);

  it('a failing scenario exits 1, names the step, leaves a complete bundle; its replay fails at the same step', async () => {
    const payload = path.join(base, 'payload.bin');
    await writeFile(payload, randomBytes(3000));
    await chmod(payload, 0o751);
    const file = path.join(base, 'failing.scenario.yaml');
    await writeFile(
      file,
      [
        'name: deliberately failing',
        `topology: ${path.join(repoRoot, 'topologies/pair.yaml')}`,
        'timeout: 180s',
        'collect: [a:/etc/hostname]',
        'steps:',
        '  - copy: { from: ./payload.bin, to: a:/tmp/payload.bin }',
        '  - copy: { from: a:/tmp/payload.bin, to: ./back/payload.bin }',
        '  - name: the file that is not there',
        '    exec: { node: a, cmd: "cat /tmp/missing", expect: { stdout: "^present" } }',
        '  - exec: { node: b, cmd: "true" }',
        '',
      ].join('\n'),
    );
    const junit = path.join(base, 'failing.xml');
    const bundles = path.join(base, 'bundles');
    const res = await run(['test', file, '--junit', junit, '--bundle', bundles, '--keep']);
    expect(res.exitCode).toBe(1);
    expect(res.stdout).toContain('PASS  1. copy');
    expect(res.stdout).toContain('FAIL  3. the file that is not there');
    expect(res.stdout).toMatch(/expected: exit 0, stdout =~ \/\^present\//);
    expect(res.stdout).toMatch(/stderr\| cat: can't open '\/tmp\/missing'/);
    expect(res.stdout).toContain('SKIP  4. b: true');

    // Binary safe, mode kept, both ways.
    expect(await readFile(path.join(base, 'back/payload.bin'))).toEqual(await readFile(payload));
    expect((await stat(path.join(base, 'back/payload.bin'))).mode & 0o777).toBe(0o751);

    const doc = parseJunit(await readFile(junit, 'utf8'));
    const cases = doc.testsuites.testsuite[0].testcase;
    expect(cases).toHaveLength(4);
    expect(cases[2].failure.message).toMatch(/stdout does not match/);

    const [bundle] = await readdir(bundles);
    const unpacked = path.join(base, 'unpacked');
    await rm(unpacked, { recursive: true, force: true });
    await (await import('node:fs/promises')).mkdir(unpacked);
    await tar.x({ file: path.join(bundles, bundle!), cwd: unpacked });
    const listed = await listFiles(unpacked);
    for (const f of ['manifest.json', 'scenario.yaml', 'topology.yaml', 'seed', 'versions.json', 'events.jsonl', 'logs/a.log', 'logs/b.log', 'collected/a/etc/hostname', 'payload.bin']) {
      expect(listed.find((l) => l.file === f)?.size ?? 0, f).toBeGreaterThan(0);
    }
    for (const l of listed) expect(l.size, l.file).toBeGreaterThan(0);
    const manifest = JSON.parse(await readFile(path.join(unpacked, 'manifest.json'), 'utf8'));
    expect(manifest.failedStep).toMatchObject({ number: 3, name: 'the file that is not there' });
    expect(Object.keys(manifest.versions)).toEqual(expect.arrayContaining(['topo', 'qemu', 'guestKernel', 'busybox', 'accel', 'hostKernel']));
    const events = (await readFile(path.join(unpacked, 'events.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(events.some((e) => e.type === 'console')).toBe(false);
    expect(events.some((e) => e.type === 'node' && e.state === 'ready')).toBe(true);
    // The kept run directory has the step boundaries beside the lab's journal.
    const kept = (await readFile(path.join(base, 'run/pair/steps.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(kept.map((e) => `${e.step}:${e.state}`)).toEqual(['1:start', '1:pass', '2:start', '2:pass', '3:start', '3:fail', '4:skip']);
    expect(events.filter((e) => e.type === 'step').map((e) => `${e.step}:${e.state}`)).toEqual(['1:start', '1:pass', '2:start', '2:pass', '3:start', '3:fail', '4:skip']);

    const replay = await run(['test', path.join(bundles, bundle!), '--bundle', path.join(base, 'replay-bundles')]);
    expect(replay.exitCode).toBe(1);
    expect(replay.stdout).toContain(`seed ${manifest.seed}`);
    expect(replay.stdout).toContain('FAIL  3. the file that is not there');
    // The failure is located in the bundle, not in the temporary directory that is gone when the run ends.
    expect(replay.stdout).toContain(`step 3 at ${path.join(bundles, bundle!)}:scenario.yaml:`);
    expect(replay.stdout + replay.stderr).not.toContain('topo-replay-');
  });

  it('--pause-on-failure keeps the lab up after a failed step until Ctrl-C, with hints naming the failed step\'s node', async () => {
    const file = path.join(base, 'pause.scenario.yaml');
    await writeFile(file, `name: pause\ntopology: ${path.join(repoRoot, 'topologies/pair.yaml')}\nsteps:\n  - exec: { node: a, cmd: "true" }\n  - exec: { node: b, cmd: "exit 5" }\n`);
    const child = run(['test', file, '--pause-on-failure', '--bundle', path.join(base, 'pause-bundles')], { group: true });
    try {
      const seen = await waitForOutput(child, /Ctrl-C tears it down/);
      expect(seen).toContain('FAIL  2. b: exit 5');
      expect(seen).toContain('topo exec pair b -- sh');
      expect(seen).toContain('topo console pair b');
      const look = await run(['exec', 'pair', 'b', '--', 'hostname']);
      expect(look.stdout.trim()).toBe('b');
    } finally {
      // A failed look must not leave the paused lab behind for the next test.
      ctrlC(child);
    }
    const res = await child;
    expect(res.exitCode).toBe(1);
    const ps = await run(['ps', '--json']);
    expect(JSON.parse(ps.stdout)).toEqual([]);
  });

  it('a step that hangs is cut by the scenario timeout: teardown happens and the bundle is written', async () => {
    const file = path.join(base, 'hang.scenario.yaml');
    await writeFile(file, `name: hang\ntopology: ${path.join(repoRoot, 'topologies/pair.yaml')}\ntimeout: 40s\nsteps:\n  - exec: { node: a, cmd: "sleep 600", timeout: 10m }\n  - exec: { node: b, cmd: "true" }\n`);
    const bundles = path.join(base, 'hang-bundles');
    const res = await run(['test', file, '--bundle', bundles]);
    expect(res.exitCode).toBe(1);
    expect(res.stdout).toMatch(/FAIL {2}1\. a: sleep 600/);
    expect(res.stdout).toContain('SKIP  2. b: true');
    expect(await readdir(bundles)).toHaveLength(1);
    expect(JSON.parse((await run(['ps', '--json'])).stdout)).toEqual([]);
  });
});
