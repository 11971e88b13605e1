// Every way a lab ends (up fails midway, Ctrl-C while booting, down, dispose) releases one stack, newest first,
// and a release that throws does not keep the rest from running. Fake QEMU (test/fixtures/fake-qemu.mjs).
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SupervisorEvent } from '../../src/api/events.js';
import { startLab, type Lab, type UpOptions } from '../../src/runtime/lab.js';
import { Janitor } from '../../src/host/proc-group.js';
import { LinkFabric } from '../../src/net/links.js';
import { Journal } from '../../src/runtime/journal.js';
import { Supervisor } from '../../src/runtime/supervisor.js';
import type { ResolvedNode } from '../../src/topology/model.js';
import { iface, node, topology } from '../helpers/model.js';

const fake = fileURLToPath(new URL('../fixtures/fake-qemu.mjs', import.meta.url));
let base: string;
let cwd: string;
const labs: Lab[] = [];

beforeEach(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-teardown-'));
  cwd = process.cwd();
  process.chdir(base);
  process.env.TOPO_QEMU = fake;
  delete process.env.FAKE_QEMU_MODE;
});
afterEach(async () => {
  vi.restoreAllMocks();
  for (const lab of labs.splice(0)) await lab.down({ force: true }).catch(() => undefined);
  process.chdir(cwd);
  delete process.env.TOPO_QEMU;
  delete process.env.FAKE_QEMU_MODE;
  await rm(base, { recursive: true, force: true });
});

const vm = (name: string, over: Partial<ResolvedNode> = {}) => node(name, { kernel: fake, ready: { console: 'fake: ready \\S+', timeoutMs: 10_000 }, ...over });

/** Two nodes on a captured link, so every kind of resource is taken: run dir, journal, janitor, capture dir, links. */
function capturedPair(name: string) {
  const link = { id: 'l1', index: 0, kind: 'p2p' as const, mtu: 1500, capture: true, endpoints: [{ node: 'a', iface: 'eth0', mac: 'x' }, { node: 'b', iface: 'eth0', mac: 'y' }] };
  return topology([vm('a', { interfaces: [iface('eth0', { link: 'l1' })] }), vm('b', { interfaces: [iface('eth0', { link: 'l1' })] })], { name, links: [link] });
}

/** Records the order the lab's resources are released in (the control server is the test's own). */
function recordReleases(): string[] {
  const order: string[] = [];
  const wrap = <T extends object>(proto: T, method: keyof T & string, name: string) => {
    const original = proto[method] as (...a: unknown[]) => unknown;
    vi.spyOn(proto, method as never).mockImplementation(function (this: unknown, ...a: unknown[]) {
      order.push(name);
      return original.apply(this, a);
    } as never);
  };
  wrap(Supervisor.prototype, 'stopAll', 'nodes');
  wrap(LinkFabric.prototype, 'close', 'links');
  wrap(Janitor.prototype, 'dismiss', 'janitor');
  wrap(Journal.prototype, 'close', 'journal');
  return order;
}

function serveRecorded(order: string[], fail?: Error): UpOptions['serve'] {
  return async () => {
    if (fail) throw fail;
    return { close: () => void order.push('control server') };
  };
}

/** This process's open fds whose target lies under `dir` (a deleted file keeps its path, marked "(deleted)"). */
function openFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir)) out.push(target);
    } catch {
      // closed meanwhile (the readdir's own fd)
    }
  }
  return out;
}

function lastJournalLine(lab: Lab): unknown {
  return JSON.parse(readFileSync(lab.runDir.file('events.jsonl'), 'utf8').trim().split('\n').at(-1)!);
}

describe('the lab resource stack', () => {
  it('down releases everything newest first: nodes, control server, links, janitor, then the journal after "stopped"', async () => {
    const order = recordReleases();
    const events: SupervisorEvent[] = [];
    const lab = await startLab(capturedPair('downs'), { accel: 'tcg', runDirBase: path.join(base, 'run'), keep: true, serve: serveRecorded(order), onEvent: (e) => events.push(e) });
    labs.push(lab);
    await lab.down();
    expect(order).toEqual(['nodes', 'control server', 'links', 'janitor', 'journal']);
    expect(lastJournalLine(lab)).toMatchObject({ type: 'lab', state: 'stopped' });
    expect(events.filter((e) => e.type === 'lab').map((e) => (e as { state: string }).state)).toEqual(['preparing', 'starting', 'ready', 'stopping', 'stopped']);
    // A lab that ran keeps its capture directory (and its pcaps).
    expect(existsSync(path.join(base, 'captures', 'downs'))).toBe(true);
  });

  it('a failure late in preparation (the control server) releases what was taken, in reverse, and no "stopped" event', async () => {
    const order = recordReleases();
    const events: SupervisorEvent[] = [];
    const runBase = path.join(base, 'run');
    const err = await startLab(capturedPair('servefail'), { accel: 'tcg', runDirBase: runBase, serve: serveRecorded(order, new Error('no socket')), onEvent: (e) => events.push(e) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ message: 'no socket' });
    expect(order).toEqual(['links', 'janitor', 'journal']);
    expect(existsSync(path.join(runBase, 'servefail'))).toBe(false);
    expect(existsSync(path.join(base, 'captures'))).toBe(false);
    expect(events.some((e) => e.type === 'lab' && (e.state === 'stopping' || e.state === 'stopped'))).toBe(false);
  });

  it('a failure in the middle of preparation (a host port taken) releases what was taken by then, in reverse', async () => {
    const order = recordReleases();
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const topo = capturedPair('porttaken');
      const nodes = topo.nodes.map((n) => (n.name === 'b' ? { ...n, ports: [{ guest: 22, host: port, protocol: 'tcp' as const }] } : n));
      const runBase = path.join(base, 'run');
      await expect(startLab({ ...topo, nodes }, { accel: 'tcg', runDirBase: runBase, serve: serveRecorded(order) })).rejects.toMatchObject({ code: 'E_PORT_TAKEN' });
      // Taken by then: run directory, journal, janitor; not yet: capture directory, links, nodes, control server.
      expect(order).toEqual(['janitor', 'journal']);
      expect(existsSync(path.join(runBase, 'porttaken'))).toBe(false);
      expect(openFilesUnder(runBase)).toEqual([]);
    } finally {
      server.close();
    }
  });

  it('a failure before the boot leaves no fd of the run directory open (the console logs were open already)', async () => {
    const runBase = path.join(base, 'run');
    await expect(startLab(capturedPair('fdleak'), { accel: 'tcg', runDirBase: runBase, serve: serveRecorded([], new Error('no socket')) })).rejects.toThrow('no socket');
    expect(openFilesUnder(runBase)).toEqual([]);
  });

  it('a failing boot releases the nodes first, then the rest', async () => {
    process.env.FAKE_QEMU_MODE = 'crash';
    const order = recordReleases();
    const runBase = path.join(base, 'run');
    await expect(startLab(capturedPair('bootfail'), { accel: 'tcg', runDirBase: runBase, serve: serveRecorded(order) })).rejects.toMatchObject({ code: 'E_QEMU_EXIT' });
    // The boot's own forced stop, then the stack's.
    expect(order).toEqual(['nodes', 'nodes', 'control server', 'links', 'janitor', 'journal']);
    expect(existsSync(path.join(runBase, 'bootfail'))).toBe(false);
  });

  it('an abort (Ctrl-C) while nodes boot releases everything and rejects with E_ABORTED', async () => {
    process.env.FAKE_QEMU_MODE = 'never-ready';
    const order = recordReleases();
    const runBase = path.join(base, 'run');
    const abort = new AbortController();
    const up = startLab(capturedPair('aborts'), {
      accel: 'tcg',
      runDirBase: runBase,
      signal: abort.signal,
      serve: serveRecorded(order),
      onEvent: (e) => {
        if (e.type === 'node' && e.state === 'booting') abort.abort();
      },
    });
    await expect(up).rejects.toMatchObject({ code: 'E_ABORTED' });
    expect(order.slice(-4)).toEqual(['control server', 'links', 'janitor', 'journal']);
    expect(existsSync(path.join(runBase, 'aborts'))).toBe(false);
    expect(existsSync(path.join(base, 'captures'))).toBe(false);
  });

  it('a release that throws on down is reported; the others still run and down resolves', async () => {
    const order = recordReleases();
    vi.spyOn(LinkFabric.prototype, 'close').mockRejectedValue(new Error('link close failed'));
    const events: SupervisorEvent[] = [];
    const runBase = path.join(base, 'run');
    const lab = await startLab(capturedPair('throws'), { accel: 'tcg', runDirBase: runBase, serve: serveRecorded(order), onEvent: (e) => events.push(e) });
    labs.push(lab);
    await lab.down();
    expect(order).toEqual(expect.arrayContaining(['control server', 'janitor', 'journal']));
    expect(existsSync(path.join(runBase, 'throws'))).toBe(false);
    expect(events).toContainEqual({ type: 'notice', message: 'teardown: links: link close failed' });
    expect(events.at(-1)).toMatchObject({ type: 'lab', state: 'stopped' });
  });

  it("the library's dispose is down", async () => {
    const runBase = path.join(base, 'run');
    {
      await using lab = await startLab(capturedPair('disposes'), { accel: 'tcg', runDirBase: runBase });
      expect(existsSync(lab.runDir.path)).toBe(true);
    }
    expect(existsSync(path.join(runBase, 'disposes'))).toBe(false);
  });
});
