// NodeProcess against the fake QEMU (test/fixtures/fake-qemu.mjs): one state field and named stop reasons.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConsoleHub } from '../../src/machine/console.js';
import { isRequestedStop, NodeProcess, type NodeProcessState } from '../../src/machine/node-process.js';
import { planNode } from '../../src/qemu/plan.js';
import { compilePattern } from '../../src/topology/pattern.js';
import { node, topology } from '../helpers/model.js';

const fake = fileURLToPath(new URL('../fixtures/fake-qemu.mjs', import.meta.url));
const procs: NodeProcess[] = [];

beforeEach(() => {
  delete process.env.FAKE_QEMU_MODE;
  delete process.env.FAKE_QEMU_EXIT;
});
afterEach(async () => {
  for (const p of procs.splice(0)) {
    void p.stop('teardown', { force: true });
    if (p.state !== 'idle') await p.exited;
  }
  delete process.env.FAKE_QEMU_MODE;
  delete process.env.FAKE_QEMU_EXIT;
});

/** A NodeProcess of one fake node, with every state it passes through recorded (at spawn, on each console line). */
function launch(timeoutMs = 10_000, tpmStateDir?: string): { proc: NodeProcess; seen: NodeProcessState[] } {
  const n = node('n', { kernel: fake });
  const topo = topology([n], { name: 'np' });
  const seen: NodeProcessState[] = [];
  const hub = new ConsoleHub(undefined);
  const plan = planNode(topo, n, { accel: 'tcg', binary: fake, kernel: fake, defaultGuest: false, hostForwards: [] });
  const proc: NodeProcess = new NodeProcess({
    // A TPM slot makes the launch start a (real) swtpm before QEMU: a window with a launch but no QEMU yet.
    plan: tpmStateDir ? { ...plan, fdSlots: [...plan.fdSlots, { kind: 'tpm' }] } : plan,
    tpmStateDir,
    console: hub,
    readyPatterns: [compilePattern('fake: ready')],
    readyTimeoutMs: timeoutMs,
    linkFd: () => {
      throw new Error('no links');
    },
    onSpawn: () => seen.push(proc.state),
  });
  procs.push(proc);
  return { proc, seen };
}

describe('NodeProcess states', () => {
  it('idle, starting, running, then stopping and exited on a requested stop (not a failure)', async () => {
    const { proc, seen } = launch();
    expect(proc.state).toBe('idle');
    expect(proc.live).toBe(false);
    const started = proc.start();
    expect(proc.state).toBe('starting');
    await started;
    expect(seen).toEqual(['starting']);
    expect(proc.state).toBe('running');
    expect(proc.live).toBe(true);
    const stopped = proc.stop('requested');
    expect(proc.state).toBe('stopping');
    const info = await stopped;
    expect(proc.state).toBe('exited');
    expect(proc.live).toBe(false);
    expect(info.stopReason).toBe('requested');
    expect(isRequestedStop(info.stopReason)).toBe(true);
    // QMP quit: the fake exits 0 by itself.
    expect(info.signal).toBeUndefined();
  });

  it('a QEMU that exits by itself has no stop reason', async () => {
    process.env.FAKE_QEMU_MODE = 'die-after-ready';
    const { proc } = launch();
    await proc.start();
    const info = await proc.exited;
    expect(proc.state).toBe('exited');
    expect(info.stopReason).toBeUndefined();
    expect(info.code).toBe(3);
  });

  it("stop('failure') kills at once and is reported as a failure, not a stop", async () => {
    const { proc } = launch();
    await proc.start();
    const info = await proc.stop('failure', { force: true });
    expect(info.signal).toBe('SIGKILL');
    expect(info.stopReason).toBe('failure');
    expect(isRequestedStop(info.stopReason)).toBe(false);
  });

  it('a stop while the launch is still starting ends the launch; start() rejects and the stop is a stop', async () => {
    process.env.FAKE_QEMU_MODE = 'never-ready';
    const { proc } = launch();
    const started = proc.start().catch((e: unknown) => e);
    await new Promise<void>((resolve) => {
      const t = setInterval(() => proc.pid !== undefined && (clearInterval(t), resolve()), 10);
    });
    expect(proc.state).toBe('starting');
    const info = await proc.stop('teardown');
    expect(await started).toMatchObject({ code: 'E_QEMU_EXIT' });
    expect(proc.state).toBe('exited');
    expect(info.stopReason).toBe('teardown');
  });

  it('a stop before QEMU is spawned (swtpm still starting) cancels the launch: nothing is spawned, swtpm is reaped', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'topo-np-'));
    try {
      const { proc, seen } = launch(10_000, path.join(dir, 'n.tpm'));
      const started = proc.start().catch((e: unknown) => e);
      expect(proc.state).toBe('starting');
      const info = await proc.stop('requested');
      expect(await started).toMatchObject({ code: 'E_STOPPING' });
      expect(seen).toEqual([]);
      expect(proc.pid).toBeUndefined();
      expect(proc.state).toBe('exited');
      expect(info.stopReason).toBe('requested');
      expect(proc.swtpmPid).toBeGreaterThan(0);
      expect(existsSync(`/proc/${proc.swtpmPid}`)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the first reason sticks; a later forced stop only escalates a stubborn QEMU to SIGKILL', async () => {
    process.env.FAKE_QEMU_MODE = 'stubborn';
    const { proc } = launch();
    await proc.start();
    const graceful = proc.stop('restart');
    const forced = proc.stop('teardown', { force: true });
    const [a, b] = await Promise.all([graceful, forced]);
    expect(a).toBe(b);
    expect(a.signal).toBe('SIGKILL');
    expect(a.stopReason).toBe('restart');
  });

  it('start() twice is refused', async () => {
    const { proc } = launch();
    await proc.start();
    await expect(proc.start()).rejects.toThrow(/start\(\) called twice/);
  });
});
