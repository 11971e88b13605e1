// Supervisor edge cases against a fake QEMU (test/fixtures/fake-qemu.mjs): crashes, hangs and deaths on demand.
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SupervisorEvent } from '../../src/api/events.js';
import { type Lab } from '../../src/runtime/lab.js';
import { up } from '../../src/control/up.js';
import { LinkFabric } from '../../src/net/links.js';
import { Supervisor } from '../../src/runtime/supervisor.js';
import { planNode } from '../../src/qemu/plan.js';
import { compilePattern } from '../../src/topology/pattern.js';
import type { ResolvedNode } from '../../src/topology/model.js';
import { iface, node, topology } from '../helpers/model.js';
import { until } from '../helpers/wait.js';

const fake = fileURLToPath(new URL('../fixtures/fake-qemu.mjs', import.meta.url));
let base: string;
let labs: Lab[] = [];

beforeEach(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-sup-'));
  process.env.TOPO_QEMU = fake;
  delete process.env.FAKE_QEMU_MODE;
  delete process.env.FAKE_QEMU_MARKER;
  delete process.env.FAKE_QEMU_ONLY;
  delete process.env.FAKE_QEMU_EXIT;
  delete process.env.FAKE_QEMU_LAST;
  delete process.env.FAKE_QEMU_SAY_LATER;
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
    expect(lab.supervisor.nodes().map((n) => n.state)).toEqual(['ready', 'ready']);
    expect(events.some((e) => e.type === 'lab' && e.state === 'ready' && e.detail === 'all 2 nodes ready')).toBe(true);
    const pids = lab.supervisor.nodes().map((n) => n.pid!);
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
    // Long enough for a loaded machine to start the fake QEMU and see its first line before the timeout.
    const topo = topology([vm('slow', { ready: { console: 'fake: ready', timeoutMs: 3000 } })], { name: 'slow' });
    const err = await up(topo, { accel: 'tcg', runDirBase: base }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_READY_TIMEOUT', node: 'slow' });
    expect((err as { consoleTail: string }).consoleTail).toContain('booting slow');
    // The run directory is gone by now: the hint must not send the user to a log file that no longer exists.
    expect((err as { hint: string }).hint).not.toMatch(/\.log/);
    expect((err as { hint: string }).hint).toMatch(/--keep/);
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
    await waitFor('a ready twice', () => events.filter((e) => e.type === 'node' && e.node === 'a' && e.state === 'ready').length === 2);
    const restarting = events.find((e) => e.type === 'node' && e.node === 'a' && e.state === 'restarting');
    // Backoff and the limit are part of what the user sees.
    expect(restarting).toMatchObject({ detail: expect.stringMatching(/; restart 1\/5 in 1\.0 s$/) });
    expect(lab.supervisor.node('a').state).toBe('ready');
  });

  it('a guest panic that ends QEMU with code 0 is a failure said as such, and restart: on-failure restarts it', async () => {
    process.env.FAKE_QEMU_MODE = 'die-once';
    process.env.FAKE_QEMU_MARKER = path.join(base, 'marker');
    process.env.FAKE_QEMU_ONLY = 'a';
    process.env.FAKE_QEMU_EXIT = '0';
    process.env.FAKE_QEMU_LAST = '[    9.1] Kernel panic - not syncing: sysrq triggered crash';
    const events: SupervisorEvent[] = [];
    const lab = await start(pairTopology('panics', { restart: 'on-failure' }), events);
    await waitFor('a ready twice', () => events.filter((e) => e.type === 'node' && e.node === 'a' && e.state === 'ready').length === 2);
    const restarting = events.find((e) => e.type === 'node' && e.node === 'a' && e.state === 'restarting');
    expect(restarting).toMatchObject({ detail: expect.stringMatching(/^the guest kernel panicked: QEMU exited; restart 1\/5/) });
    expect(lab.supervisor.node('a').state).toBe('ready');
  });

  it('a guest reboot without allow_reboot (QEMU exit 0) fails the lab with what happened', async () => {
    process.env.FAKE_QEMU_MODE = 'die-after-ready';
    process.env.FAKE_QEMU_EXIT = '0';
    process.env.FAKE_QEMU_LAST = '[   12.0] reboot: Restarting system';
    const lab = await start(topology([vm('x')], { name: 'reboots' }));
    const failure = await lab.failure;
    expect(failure.message).toBe('the guest rebooted (allow_reboot: true resets it in place instead): QEMU exited');
  });

  it('a clean power-off is a stop under restart: never (the lab keeps running), a failure under on-failure', async () => {
    process.env.FAKE_QEMU_MODE = 'die-after-ready';
    process.env.FAKE_QEMU_EXIT = '0';
    process.env.FAKE_QEMU_LAST = '[    3.0] reboot: Power down';
    process.env.FAKE_QEMU_ONLY = 'a';
    const events: SupervisorEvent[] = [];
    const lab = await start(pairTopology('poweroff'), events);
    await waitFor('a stopped', () => lab.supervisor.node('a').state === 'stopped');
    expect(events).toContainEqual({ type: 'notice', message: 'a: the guest powered off' });
    expect(lab.supervisor.node('b').state).toBe('ready');
    process.env.FAKE_QEMU_ONLY = 'y';
    await start(topology([vm('y', { restart: 'on-failure' })], { name: 'poweroff2' }), events);
    await waitFor('y restarting', () => events.some((e) => e.type === 'node' && e.node === 'y' && e.state === 'restarting'));
  });

  it('allow_reboot: a reboot line on a ready node is a notice, not a new boot', async () => {
    process.env.FAKE_QEMU_SAY_LATER = '[   20.0] reboot: Restarting system';
    const events: SupervisorEvent[] = [];
    const lab = await start(topology([vm('r', { allowReboot: true }), vm('s')], { name: 'rebooting' }), events);
    await waitFor('the notice "r: guest rebooted"', () => events.some((e) => e.type === 'notice' && e.message === 'r: guest rebooted'));
    expect(events.some((e) => e.type === 'notice' && e.message.startsWith('s:'))).toBe(false);
    expect(lab.supervisor.node('r').state).toBe('ready');
  });

  it('one node stopped and started again while the rest of the lab runs (a forwarded link reconnects)', async () => {
    const events: SupervisorEvent[] = [];
    const lab = await start(pairTopology('stopstart', { restart: 'on-failure' }), events);
    const old = lab.supervisor.node('b').pid!;
    await lab.node('b').stop();
    expect((await lab.status()).nodes.map((n) => [n.name, n.state])).toEqual([['a', 'ready'], ['b', 'stopped']]);
    expect(alive(old)).toBe(false);
    await lab.node('b').start();
    expect(lab.supervisor.node('b').state).toBe('ready');
    expect(lab.supervisor.node('b').pid).not.toBe(old);
    expect(events.some((e) => e.type === 'node' && e.state === 'failed')).toBe(false);
    await expect(lab.node('b').start()).rejects.toMatchObject({ code: 'E_RUNNING' });
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

  it('a console log that cannot be written (disk full) fails the node with the reason; the lab tears down, nothing crashes', async () => {
    const events: SupervisorEvent[] = [];
    const topo = pairTopology('full');
    const fabric = new LinkFabric(topo, { captureFile: () => '/nonexistent' });
    const sup = new Supervisor({
      nodes: topo.nodes.map((n) => ({
        name: n.name,
        plan: planNode(topo, n, { accel: 'tcg', binary: fake, kernel: fake, defaultGuest: false, hostForwards: [] }),
        readyPatterns: [compilePattern('fake: ready')],
        readyTimeoutMs: 10_000,
        readyOnQmp: false,
        restart: n.restart,
        allowReboot: n.allowReboot,
        dependsOn: n.dependsOn,
      })),
      host: { openConsoleLog: () => openSync('/dev/full', 'w'), linkFd: (name, ifc, link) => fabric.fdFor(name, ifc, link) },
      jobs: 2,
    });
    sup.on('event', (e) => events.push(e));
    const err = await sup.start().catch((e: unknown) => e);
    await sup.stopAll(true);
    expect(err).toMatchObject({ code: 'E_NODE_FAULT' });
    expect((err as Error).message).toMatch(/cannot write the console log: .*ENOSPC/);
    expect(events.some((e) => e.type === 'node' && e.state === 'failed' && /ENOSPC/.test(e.detail ?? ''))).toBe(true);
    for (const n of sup.nodes()) expect(sup.process(n.name)).toBeUndefined();
  });

  it('a capture directory topo created for a lab that failed to start is removed again', async () => {
    process.env.FAKE_QEMU_MODE = 'crash';
    const cwd = process.cwd();
    process.chdir(base);
    try {
      const link = { id: 'l1', index: 0, kind: 'p2p' as const, mtu: 1500, capture: true, endpoints: [{ node: 'a', iface: 'eth0', mac: 'x' }, { node: 'b', iface: 'eth0', mac: 'y' }] };
      const topo = topology([vm('a', { interfaces: [iface('eth0', { link: 'l1' })] }), vm('b', { interfaces: [iface('eth0', { link: 'l1' })] })], { name: 'capfail', links: [link] });
      await expect(up(topo, { accel: 'tcg', runDirBase: path.join(base, 'run') })).rejects.toMatchObject({ code: 'E_QEMU_EXIT' });
      expect(existsSync(path.join(base, 'captures'))).toBe(false);
    } finally {
      process.chdir(cwd);
    }
  });

  it('a forwarded link whose peer breaks the framing reaches the events; the lab keeps running', async () => {
    const events: SupervisorEvent[] = [];
    const lab = await start(pairTopology('frames', { restart: 'on-failure' }), events);
    const fwd = (lab as unknown as { parts: { fabric: LinkFabric } }).parts.fabric.forwarded()[0]!;
    fwd.forwarder.replaceEndpoint(0);
    const fd = fwd.forwarder.takeGuestFd(0);
    // A length prefix of 0x7fffffff is not a frame: the runner must drop the port, say so, and keep going.
    writeSync(fd, Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]));
    await waitFor('the notice that l1 broke the frame protocol', () => events.some((e) => e.type === 'notice' && /l1: .*broke the frame protocol/.test(e.message)));
    closeSync(fd);
    expect(lab.supervisor.node('b').state).toBe('ready');
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

const waitFor = (what: string, cond: () => boolean) => until(what, cond, { timeoutMs: 25_000 });
