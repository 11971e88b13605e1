// `topo down LAB` while `topo up --detach` of that lab still boots: a stop that was asked for is reported as one.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { topo, waitForOutput } from '../helpers/cli.js';
import { isRunning } from '../helpers/proc.js';

const fake = fileURLToPath(new URL('../fixtures/fake-qemu.mjs', import.meta.url));
let base: string;
let file: string;
let log: string;

beforeEach(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-downboot-'));
  file = path.join(base, 'lab.yaml');
  log = path.join(base, 'fake.log');
  const vm = `{ kernel: ${JSON.stringify(fake)}, host_network: false, ready: { console: "fake: ready", timeout: 60s } }`;
  await writeFile(file, `name: booting\nnodes:\n  a: ${vm}\n  b: ${vm}\nlinks:\n  - endpoints: [a:eth0, b:eth0]\n`);
});
afterEach(async () => {
  const pids = [...(await readFile(log, 'utf8').catch(() => '')).matchAll(/ pid (\d+)$/gm)].map((m) => Number(m[1]));
  for (const pid of pids.filter(isRunning)) process.kill(pid, 'SIGKILL');
  await rm(base, { recursive: true, force: true });
});

it('`up --detach` says the lab was stopped by `topo down` and exits 1, with no error about QEMU', async () => {
  const up = topo(['up', '--detach', file, '--run-dir', base], { TOPO_QEMU: fake, FAKE_QEMU_LOG: log, FAKE_QEMU_MODE: 'never-ready' }, { group: true });
  await waitForOutput(up, /b: booting/);
  const down = await topo(['down', 'booting', '--run-dir', base]);
  expect(down.stdout).toBe('booting: stopped');
  expect(down.exitCode).toBe(0);
  const result = await up;
  expect(result.stderr.trim().split('\n')).toEqual(['topo: error: the lab was stopped by `topo down` before it was ready']);
  expect(result.all).not.toMatch(/QEMU exited|failed/);
  expect(result.exitCode).toBe(1);
});
