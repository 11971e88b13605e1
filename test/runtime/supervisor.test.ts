// Supervisor edge cases against a fake QEMU (test/fixtures/fake-qemu.mjs): crashes, hangs and deaths on demand.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SupervisorEvent } from '../../src/runtime/events.js';
import { up, type Lab } from '../../src/runtime/lab.js';
import type { ResolvedNode } from '../../src/topology/model.js';
import { iface, node, topology } from '../helpers/model.js';

const fake = fileURLToPath(new URL('../fixtures/fake-qemu.mjs', import.meta.url));
let base: string;
let labs: Lab[] = [];

beforeEach(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-sup-'));
  process.env.TOPO_QEMU = fake;
  delete process.env.FAKE_QEMU_MODE;
  delete process.env.FAKE_QEMU_MARKER;
  delete process.env.FAKE_QEMU_ONLY;
});
afterEach(async () => {
  for (const lab of labs) await lab.down({ force: true });
  labs = [];
  delete process.env.TOPO_QEMU;
  await rm(base, { recursive: true, force: true });
});

const vm = (name: string, over: Partial<ResolvedNode> = {}) => node(name, { kernel: fake, ready: { console: `fake: ready ${'\\S+'}`, timeoutMs: 10_000 }, ...over });

function pairTopology(name = 'fake', over: Partial<ResolvedNode> = {}) {
  const a = vm('a', { interfaces: [iface('eth0', { link: 'l1' })], ...over });
  const b = vm('b', { interfaces: [iface('eth0', { link: 'l1' })] });
  const link = { id: 'l1', index: 0, kind: 'p2p' as const, mtu: 1500, capture: false, endpoints: [{ node: 'a', iface: 'eth0', mac: 'x' }, { node: 'b', iface: 'eth0', mac: 'y' }] };
  return topology([a, b], { name, links: [link] });
}

async function start(topo: ReturnType<typeof topology>, events: SupervisorEvent[] = [], jobs?: number): Promise<Lab> {
  const lab = await up(topo, { accel: 'tcg', runDirBase: base, jobs, onEvent: (e) => events.push(e) });
  labs.push(lab);
  return lab;
}

describe('supervisor with a fake QEMU', () => {
  it('brings nodes up, reports ready, and tears down leaving no run directory', async () => {
    const events: SupervisorEvent[] = [];
    const lab = await start(pairTopology(), events);
    expect([...lab.supervisor.states.values()]).toEqual(['ready', 'ready']);
    expect(events.some((e) => e.type === 'lab' && e.state === 'ready' && e.detail === 'all 2 nodes ready')).toBe(true);
    const pids = [...lab.supervisor.procs.values()].map((p) => p.pid!);
    expect(existsSync(lab.runDir.path)).toBe(true);
    await lab.down();
    for (const pid of pids) expect(alive(pid)).toBe(false);
    expect(existsSync(lab.runDir.path)).toBe(false);
  });

  it('a QEMU that fails at launch is reported with its stderr, and nothing is left', async () => {
    process.env.FAKE_QEMU_MODE = 'crash';
    const err = await up(pairTopology(), { accel: 'tcg', runDirBase: base }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_QEMU_EXIT' });
    expect((err as Error).message).toMatch(/exited with code 1 before it became ready: .*fake failure/);
    expect((err as { stderrTail: string }).stderrTail).toContain('fake failure');
    expect(existsSync(path.join(base, 'fake'))).toBe(false);
  });

  it('a node that never becomes ready times out with a hint', async () => {
    process.env.FAKE_QEMU_MODE = 'never-ready';
    const topo = topology([vm('slow', { ready: { console: 'fake: ready', timeoutMs: 500 } })], { name: 'slow' });
    const err = await up(topo, { accel: 'tcg', runDirBase: base }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_READY_TIMEOUT', node: 'slow' });
    expect((err as { consoleTail: string }).consoleTail).toContain('booting slow');
  });

  it('a QEMU dying after ready is a lab failure with its stderr', async () => {
    process.env.FAKE_QEMU_MODE = 'die-after-ready';
    const lab = await start(topology([vm('x')], { name: 'dies' }));
    const failure = await lab.failure;
    expect(failure.message).toMatch(/exited with code 3 unexpectedly: qemu-system-x86_64: fake guest crashed/);
  });

  it('restart: on-failure brings a dead node back', async () => {
    process.env.FAKE_QEMU_MODE = 'die-once';
    process.env.FAKE_QEMU_MARKER = path.join(base, 'marker');
    process.env.FAKE_QEMU_ONLY = 'a';
    const events: SupervisorEvent[] = [];
    const lab = await start(pairTopology('restarts', { restart: 'on-failure' }), events);
    await waitFor(() => events.filter((e) => e.type === 'node' && e.node === 'a' && e.state === 'ready').length === 2);
    expect(events.some((e) => e.type === 'node' && e.node === 'a' && e.state === 'restarting')).toBe(true);
    expect(lab.supervisor.states.get('a')).toBe('ready');
  });

  it('depends_on: a node starts only after what it depends on is ready', async () => {
    const events: SupervisorEvent[] = [];
    await start(topology([vm('app', { dependsOn: ['db'] }), vm('db')], { name: 'deps' }), events);
    const order = events.filter((e) => e.type === 'node').map((e) => `${(e as { node: string }).node}:${(e as { state: string }).state}`);
    expect(order.indexOf('db:ready')).toBeLessThan(order.indexOf('app:starting'));
  });

  it('--jobs bounds how many nodes boot at once', async () => {
    const events: SupervisorEvent[] = [];
    await start(topology(['a', 'b', 'c', 'd'].map((n) => vm(n)), { name: 'jobs' }), events, 1);
    let booting = 0;
    let peak = 0;
    for (const e of events) {
      if (e.type !== 'node') continue;
      if (e.state === 'starting') booting++;
      if (e.state === 'ready' || e.state === 'failed') booting--;
      peak = Math.max(peak, booting);
    }
    expect(peak).toBe(1);
  });

  it('two labs of different names run side by side; the same lab twice is refused', async () => {
    await start(pairTopology('one'));
    await start(pairTopology('two'));
    const err = await up(pairTopology('one'), { accel: 'tcg', runDirBase: base }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_LAB_RUNNING' });
    expect((err as Error).message).toMatch(/lab "one" is already running/);
  });

  it('a missing QEMU binary is one clear error before anything starts', async () => {
    process.env.TOPO_QEMU = '/nonexistent/qemu-system-x86_64';
    const err = await up(pairTopology(), { accel: 'tcg', runDirBase: base }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_NO_QEMU' });
    expect((err as { hint: string }).hint).toMatch(/apt-get install qemu-system-x86/);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(cond: () => boolean, limitMs = 25_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 20));
  }
}
