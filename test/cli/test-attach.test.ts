// `topo test FILE --attach LAB` on labs of fake QEMUs (`topo up --detach`): what is refused before any step, a run
// that leaves the lab up and says what it changed, and a lab going down mid-run ending the run (issue 20).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topo, waitForOutput } from '../helpers/cli.js';
import { isRunning } from '../helpers/proc.js';

const fake = fileURLToPath(new URL('../fixtures/fake-qemu.mjs', import.meta.url));
let base: string;
let log: string;
// QEMU is faked for the labs only: `topo test` asks the real one for its version (for a bundle).
const run = (args: string[], qemu = false) => topo(args, { TOPO_RUN_DIR: path.join(base, 'run'), ...(qemu ? { TOPO_QEMU: fake, FAKE_QEMU_LOG: log } : {}) });
const vm = `{ kernel: ${JSON.stringify(fake)}, host_network: false, ready: { console: "fake: ready", timeout: 20s } }`;
const labFile = (name: string) => `name: ${name}\nnodes:\n  a: ${vm}\n  b: ${vm}\nlinks:\n  - { endpoints: [a:eth0, b:eth0], forward: true }\n`;

async function scenario(name: string, steps: string[], topology = './lab.yaml'): Promise<string> {
  const file = path.join(base, `${name}.scenario.yaml`);
  await writeFile(file, [`name: ${name}`, `topology: ${topology}`, 'steps:', ...steps.map((s) => `  - ${s}`), ''].join('\n'));
  return file;
}

interface PsLab {
  lab: string;
  pid: number;
  nodes: { name: string; pid: number; restarts: number }[];
  links: { id: string; state: string }[];
}
const ps = async (): Promise<PsLab[]> => JSON.parse((await run(['ps', '--json'])).stdout) as PsLab[];

beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-attach-'));
  log = path.join(base, 'fake.log');
  await writeFile(path.join(base, 'lab.yaml'), labFile('fakeatt'));
  const up = await run(['up', '--detach', path.join(base, 'lab.yaml')], true);
  expect(up.exitCode, up.all).toBe(0);
}, 60_000);

afterAll(async () => {
  await run(['down', '--all']);
  const pids = [...(await readFile(log, 'utf8').catch(() => '')).matchAll(/ pid (\d+)$/gm)].map((m) => Number(m[1]));
  for (const pid of pids.filter(isRunning)) process.kill(pid, 'SIGKILL');
  await rm(base, { recursive: true, force: true });
});

describe('topo test --attach: refused before any step', () => {
  it('--pause-on-failure, --keep, --seed and a bundle as FILE: one line each, exit 2, the lab not even looked for', async () => {
    const file = await scenario('flags', ['sleep: 1s']);
    const r = await run(['test', file, 'x.tar.gz', '--attach', 'nosuchlab', '--pause-on-failure', '--keep', '--seed', '3']);
    expect(r.exitCode).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe('topo: error: --pause-on-failure cannot be used with --attach: the attached lab stays up after the run anyway (look at it with `topo exec`, `topo console`) (E_USAGE)');
    expect(lines.slice(1).every((l) => /^topo: error: .*(--keep|--seed|x\.tar\.gz).* \(E_USAGE\)$/.test(l))).toBe(true);
    expect(r.stdout).toBe('');
  });

  it('a lab that does not run: one line naming it and `topo ps`, exit 1', async () => {
    const file = await scenario('missing', ['sleep: 1s']);
    const r = await run(['test', file, '--attach', 'nosuchlab']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim()).toBe('topo: error: cannot attach to lab nosuchlab (E_NO_LAB): no lab "nosuchlab" (running: fakeatt) (list running labs with `topo ps`)');
    expect(r.stdout).toBe('');
  });

  it('a scenario of another topology: one line with E_ATTACH_MISMATCH and every difference, exit 2, no step run', async () => {
    await writeFile(path.join(base, 'other.yaml'), `name: fakeatt\nnodes:\n  a: ${vm}\n  c: ${vm}\nlinks:\n  - { endpoints: [a:eth0, c:eth0], forward: true }\n`);
    const good = await scenario('good', ['link: { endpoints: [a:eth0], state: down }']);
    const other = await scenario('other', ['link: { endpoints: [a:eth0], state: down }'], './other.yaml');
    const r = await run(['test', good, other, '--attach', 'fakeatt']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      `topo: error: lab fakeatt does not run the topology of ${other} (E_ATTACH_MISMATCH): node c not in the lab; node b not in the scenario's topology; link a:eth0-c:eth0 (l1) not in the lab; the lab's link a:eth0-b:eth0 not in the scenario's topology (start it with \`topo up --detach ${path.join(base, 'other.yaml')}\`, or run the scenario without --attach)`,
    ]);
    expect(r.stdout).toBe('');
    expect((await ps())[0]?.links[0]?.state).toBe('up');
  });
});

describe('topo test --attach: the steps run on the running lab', () => {
  it('runs twice on the same lab without rebooting it, leaves it up and lists what the steps changed', async () => {
    const before = await ps();
    const file = await scenario('change', ['impair: { endpoints: [a:eth0, b:eth0], delay: 20ms, direction: out }', 'link: { endpoints: [b:eth0], state: down }']);
    const junit = path.join(base, 'change.xml');
    const first = await run(['test', file, '--attach', 'fakeatt', '--junit', junit]);
    expect(first.exitCode, first.all).toBe(0);
    expect(first.stdout).toMatch(/^change \(.*change\.scenario\.yaml on lab fakeatt, seed \d+, 2 steps\)$/m);
    expect(first.stdout).toMatch(/passed: 2\/2 steps/);
    expect(first.stderr.trimEnd().split('\n')).toEqual([
      '  lab fakeatt is still up, as the steps left it (nothing is undone):',
      '    link l1 (a:eth0-b:eth0) is down (was up)',
      '    link l1 (a:eth0-b:eth0) towards b:eth0: delay 20ms (was none)',
    ]);
    expect(await readFile(junit, 'utf8')).toMatch(/<property name="attached" value="fakeatt"\/>/);
    // Run again: the same steps find the lab as the first run left it, and change nothing more.
    const second = await run(['test', file, '--attach', 'fakeatt']);
    expect(second.exitCode, second.all).toBe(0);
    expect(second.stderr.trimEnd()).toBe('  lab fakeatt is still up; the steps left no link, impairment or node changed');
    const after = await ps();
    expect(after.map((l) => [l.pid, l.nodes])).toEqual(before.map((l) => [l.pid, l.nodes]));
    expect(after[0]?.links[0]?.state).toBe('down');
    expect((await run(['link', 'b:eth0', 'up'])).exitCode).toBe(0);
    expect((await run(['impair', 'a:eth0', '--clear'])).exitCode).toBe(0);
  }, 60_000);

  it('a failed step: exit 1, JUnit failure, a bundle; a node the steps restarted is named', async () => {
    const file = await scenario('fails', ['node: { name: b, action: restart }', 'wait: { node: a, console: "never printed", timeout: 1s }', 'sleep: 1s']);
    const junit = path.join(base, 'fails.xml');
    const r = await run(['test', file, '--attach', 'fakeatt', '--junit', junit, '--bundle', path.join(base, 'bundles')]);
    expect(r.exitCode, r.all).toBe(1);
    expect(r.stdout).toMatch(/FAIL {2}2\. wait a console .*\n.*timed out after 1000 ms waiting for a console line matching \/never printed\//);
    expect(r.stdout).toMatch(/SKIP {2}3\. sleep 1s/);
    expect(r.stdout).toMatch(/FAILED: 1\/3 steps/);
    expect(r.stdout).toMatch(/bundle: .*bundles\/fails-.*\.tar\.gz/);
    expect(r.stderr).toMatch(/^ {4}node b was restarted$/m);
    const xml = await readFile(junit, 'utf8');
    expect(xml).toMatch(/failures="1"/);
    expect(xml).toMatch(/<failure message="timed out after 1000 ms/);
    expect((await ps()).map((l) => l.lab)).toEqual(['fakeatt']);
  }, 60_000);
});

describe('topo test --attach: the lab going down mid-run', () => {
  for (const how of ['topo down', 'its supervisor killed'] as const) {
    it(`ends the run with a failure naming the lab (${how}), not a hang`, async () => {
      const name = how === 'topo down' ? 'fakedown' : 'fakekill';
      const dir = path.join(base, name);
      await rm(dir, { recursive: true, force: true });
      await import('node:fs/promises').then((fs) => fs.mkdir(dir));
      await writeFile(path.join(dir, 'lab.yaml'), labFile(name));
      expect((await run(['up', '--detach', path.join(dir, 'lab.yaml')], true)).exitCode).toBe(0);
      // A wait for a console line and a sleep: neither asks the lab anything while it waits.
      const wait = how === 'topo down' ? 'wait: { node: a, console: "never printed", timeout: 600s }' : 'sleep: 600s';
      await writeFile(path.join(dir, 's.scenario.yaml'), `name: ${name}\ntopology: ./lab.yaml\ntimeout: 900s\nsteps:\n  - link: { endpoints: [a:eth0], state: up }\n  - ${wait}\n  - sleep: 1s\n`);
      const child = run(['test', path.join(dir, 's.scenario.yaml'), '--attach', name, '--bundle', path.join(base, 'bundles')]);
      await waitForOutput(child, /PASS {2}1\./);
      if (how === 'topo down') expect((await run(['down', name])).exitCode).toBe(0);
      else process.kill((await ps()).find((l) => l.lab === name)!.pid, 'SIGKILL');
      const r = await child;
      expect(r.exitCode, r.all).toBe(1);
      const line = `lab ${name} went down during the run (\`topo ps\` lists running labs)`;
      expect(r.stdout).toMatch(/FAIL {2}2\. (wait a console \/never printed\/|sleep 600s)/);
      expect(r.stdout).toContain(`step 2 at ${path.join(dir, 's.scenario.yaml')}:6: ${line}`);
      expect(r.stderr).toContain(`  ${line}`);
      expect(r.stderr).not.toMatch(/still up/);
      await run(['down', name]);
    }, 60_000);
  }
});
