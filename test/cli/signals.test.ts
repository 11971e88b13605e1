// Signals as a terminal sends them (to the whole foreground process group), against the fake QEMU.
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ctrlC, topo, waitForOutput } from '../helpers/cli.js';
import { isRunning } from '../helpers/proc.js';
import { until } from '../helpers/wait.js';

const fake = fileURLToPath(new URL('../fixtures/fake-qemu.mjs', import.meta.url));
let base: string;
let file: string;
let log: string;

beforeEach(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-sig-'));
  file = path.join(base, 'lab.yaml');
  log = path.join(base, 'fake.log');
  const vm = `{ kernel: ${JSON.stringify(fake)}, host_network: false, ready: { console: "fake: ready", timeout: 20s } }`;
  await writeFile(file, `name: sig\nnodes:\n  a: ${vm}\n  b: ${vm}\nlinks:\n  - endpoints: [a:eth0, b:eth0]\n`);
});
afterEach(async () => {
  for (const pid of await fakePids()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  }
  await rm(base, { recursive: true, force: true });
});

async function fakePids(): Promise<number[]> {
  const text = await readFile(log, 'utf8').catch(() => '');
  return [...text.matchAll(/ pid (\d+)$/gm)].map((m) => Number(m[1]));
}
const running = (pids: number[]) => pids.filter(isRunning);
describe('Ctrl-C from a terminal', () => {
  it('reaches only topo: QEMUs are stopped through the graceful ladder (QMP quit), reported stopped', async () => {
    const child = topo(['up', file, '--run-dir', base], { TOPO_QEMU: fake, FAKE_QEMU_LOG: log }, { group: true });
    await waitForOutput(child, /all 2 nodes ready/);
    ctrlC(child);
    const result = await child;
    expect(result.exitCode).toBe(0);
    const seen = await readFile(log, 'utf8');
    expect(seen).not.toMatch(/SIGINT/);
    expect(seen.match(/ quit$/gm)).toHaveLength(2);
    expect(result.all).toMatch(/^a: stopped$/m);
    expect(result.all).not.toMatch(/failed/);
    expect(running(await fakePids())).toEqual([]);
    expect(existsSync(path.join(base, 'sig'))).toBe(false);
  });

  it('a second Ctrl-C while nodes still boot forces the stop at once (SIGKILL, no SIGTERM ladder), reported stopped', async () => {
    const child = topo(['up', file, '--run-dir', base], { TOPO_QEMU: fake, FAKE_QEMU_LOG: log, FAKE_QEMU_MODE: 'stubborn,never-ready' }, { group: true });
    await waitForOutput(child, /b: booting/);
    await until('both fake QEMUs to start', async () => (await fakePids()).length === 2, { timeoutMs: 15_000, intervalMs: 50 });
    ctrlC(child);
    await waitForOutput(child, /stopping/);
    ctrlC(child);
    const result = await child;
    expect(result.exitCode).toBe(0);
    expect(result.all).toMatch(/forcing stop/);
    expect(result.all).not.toMatch(/failed|SIGKILL unexpectedly|error/);
    expect(await readFile(log, 'utf8')).not.toMatch(/SIGTERM|SIGINT/);
    expect(running(await fakePids())).toEqual([]);
    expect(existsSync(path.join(base, 'sig'))).toBe(false);
  });
});

describe('a TOPO_QEMU wrapper that does not exec', () => {
  let wrapper: string;
  beforeEach(async () => {
    wrapper = path.join(base, 'qemu-wrapper.sh');
    await writeFile(wrapper, `#!/bin/sh\n"${process.execPath}" "${fake}" "$@"\necho wrapper-done >&2\n`);
    await chmod(wrapper, 0o755);
  });

  it('leaves no QEMU behind when topo is SIGKILLed', async () => {
    const child = topo(['up', file, '--run-dir', base], { TOPO_QEMU: wrapper, FAKE_QEMU_LOG: log }, { group: true });
    await waitForOutput(child, /all 2 nodes ready/);
    const pids = await fakePids();
    expect(pids).toHaveLength(2);
    child.kill('SIGKILL');
    await child;
    await until('every fake QEMU to be gone', async () => running(pids).length === 0, { timeoutMs: 15_000, intervalMs: 50 });
  });

  it('a Ctrl-C stops the lab and its wrapped QEMUs', async () => {
    const child = topo(['up', file, '--run-dir', base], { TOPO_QEMU: wrapper, FAKE_QEMU_LOG: log }, { group: true });
    await waitForOutput(child, /all 2 nodes ready/);
    ctrlC(child);
    const result = await child;
    expect(result.exitCode).toBe(0);
    expect(running(await fakePids())).toEqual([]);
  });
});
