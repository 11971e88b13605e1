// Two `topo node` runners on 127.0.0.1 share a link: the tools reach both through one lab file (ping across, impair
// the cross-runner link, link down/up, down); kill one runner and start it again (the peer's guest sees carrier off,
// then on, and keeps running).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type RemoteLab } from '../../src/control/remote-lab.js';
import { labFileText } from '../../src/control/lab-file.js';
import { isRunning } from '../helpers/proc.js';
import { repoRoot, topo, waitForOutput, type TopoChild } from '../helpers/cli.js';
import { until } from '../helpers/wait.js';

const file = path.join(repoRoot, 'topologies/pair.yaml');
let dir: string;
let secretFile: string;
let labFile: string;
let linkPort: number;
const ports: Record<string, number> = {};
const control: Record<string, number> = {};
const runners: Record<string, TopoChild> = {};

function startRunner(node: 'a' | 'b'): TopoChild {
  // a sorts first: it dials b, which listens.
  const link = node === 'a' ? `l1@b:eth1=dial:127.0.0.1:${linkPort}` : `l1@a:eth1=listen:${linkPort}`;
  const child = topo(['node', file, node, '--secret-file', secretFile, '--epoch', '7', '--run-dir', path.join(dir, node),
    '--health-port', String(ports[node]), '--control-port', String(control[node]), '--link', link], {}, { group: true });
  runners[node] = child;
  return child;
}

const ready = async (node: string) => (await fetch(`http://127.0.0.1:${ports[node]}/ready`).catch(() => undefined))?.status === 200;
const lab = (node: string): Promise<RemoteLab> => connect('pair', { runDirBase: path.join(dir, node) });

/** The smallest RTT of 5 pings from a to b, through the lab file and the CLI. */
async function pingMin(): Promise<number> {
  const r = await topo(['exec', '--lab-file', labFile, 'a', '--', 'ping', '-c', '5', '-i', '0.3', '-W', '3', '10.0.0.2']);
  expect(r.exitCode, r.all).toBe(0);
  return Number(/min\/avg\/max = ([\d.]+)\//.exec(r.stdout)![1]);
}

async function cli(...args: string[]): Promise<string> {
  const r = await topo([...args.slice(0, 1), '--lab-file', labFile, ...args.slice(1)]);
  expect(r.exitCode, `topo ${args.join(' ')}: ${r.all}`).toBe(0);
  return r.stdout;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'topo-node-e2e-'));
  secretFile = path.join(dir, 'secret');
  await writeFile(secretFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  linkPort = await getPort();
  for (const n of ['a', 'b']) {
    ports[n] = await getPort();
    control[n] = await getPort();
  }
  labFile = path.join(dir, 'pair.lab.json');
  await writeFile(labFile, labFileText({ lab: 'pair', epoch: 7, secretFile: 'secret', nodes: { a: { control: `127.0.0.1:${control.a}` }, b: { control: `127.0.0.1:${control.b}` } } }), { mode: 0o600 });
  startRunner('b');
  startRunner('a');
  await Promise.all(['a', 'b'].map((n) => waitForOutput(runners[n]!, /topo node: \w of pair is ready/)));
  await until('both runners ready', async () => (await ready('a')) && (await ready('b')), { timeoutMs: 30_000 });
}, 300_000);

afterAll(async () => {
  for (const child of Object.values(runners)) if (child.exitCode === null && child.pid) process.kill(-child.pid, 'SIGTERM');
  await Promise.all(Object.values(runners));
  await rm(dir, { recursive: true, force: true });
});

describe('two topo node runners on loopback', () => {
  it('are one lab to the tools through the lab file: ps, exec, impair (each runner its egress), link down/up', async () => {
    const [status] = JSON.parse(await cli('ps', '--json')) as { nodes: { name: string; state: string }[]; links: { id: string; endpoints: string[]; remote: { peer: string; connected: boolean }[] }[] }[];
    expect(status!.nodes.map((n) => `${n.name} ${n.state}`)).toEqual(['a ready', 'b ready']);
    expect(status!.links).toMatchObject([{ id: 'l1', endpoints: ['a:eth1', 'b:eth1'] }]);
    expect(status!.links[0]!.remote.map((r) => `${r.peer} ${r.connected}`).sort()).toEqual(['a:eth1 true', 'b:eth1 true']);
    expect(await pingMin()).toBeLessThan(200);

    // One command, both runners: each applies the direction it sends.
    await cli('impair', 'l1', '--delay', '150ms');
    expect(await cli('impair', '--show')).toMatch(/l1 to a:eth1: delay 150ms[\s\S]*l1 to b:eth1: delay 150ms|l1 to b:eth1: delay 150ms[\s\S]*l1 to a:eth1: delay 150ms/);
    expect(await pingMin()).toBeGreaterThanOrEqual(300);
    await cli('impair', 'l1', '--clear');
    expect(await pingMin()).toBeLessThan(200);

    await cli('link', 'l1', 'down');
    const cut = await topo(['exec', '--lab-file', labFile, 'a', '--', 'ping', '-c', '1', '-W', '1', '10.0.0.2']);
    expect(cut.exitCode).toBe(1);
    // Both guests see carrier off: each runner sets its own node's.
    for (const n of ['a', 'b']) expect((await cli('exec', n, '--', 'cat', '/sys/class/net/eth1/carrier')).trim()).toBe('0');
    await cli('link', 'l1', 'up');
    expect(await pingMin()).toBeLessThan(200);
  }, 180_000);

  it('survives the peer runner dying: carrier off while it is gone, on again when it is back', async () => {
    const a = await lab('a');
    try {
      const pidBefore = (await a.status()).nodes[0]!.pid!;
      const old = runners.b!;
      process.kill(-old.pid!, 'SIGKILL');
      await old;
      await until('a sees l1 down', async () => (await a.status()).links[0]!.remote?.[0]?.connected === false, { timeoutMs: 20_000 });
      expect(await ready('a')).toBe(false);
      await until('a\'s guest sees carrier off', async () => (await a.exec('a', 'cat /sys/class/net/eth1/carrier')).stdout.toString().trim() === '0', { timeoutMs: 20_000 });

      startRunner('b');
      await waitForOutput(runners.b!, /topo node: b of pair is ready/);
      await until('a sees l1 up again', async () => (await a.status()).links[0]!.remote?.[0]?.connected === true, { timeoutMs: 60_000 });
      await until('a\'s guest sees carrier on', async () => (await a.exec('a', 'cat /sys/class/net/eth1/carrier')).stdout.toString().trim() === '1', { timeoutMs: 20_000 });
      await until('a ready again', () => ready('a'), { timeoutMs: 20_000 });
      const r = await a.exec('a', ['ping', '-c', '3', '-W', '3', '10.0.0.2']);
      expect(r.exitCode, r.stdout.toString()).toBe(0);
      const after = await a.status();
      // The guest on the surviving side kept running: the same QEMU, no restart.
      expect(after.nodes[0]).toMatchObject({ pid: pidBefore, restarts: 0, state: 'ready' });
      expect(after.links[0]!.remote![0]).toMatchObject({ connects: 2, disconnects: 1 });
    } finally {
      await a.close();
    }
  }, 180_000);

  it('topo down --lab-file stops both nodes; the runners stay (a pod must not restart into a fresh lab) until SIGTERM', async () => {
    const pids = await Promise.all(['a', 'b'].map(async (n) => {
      const l = await lab(n);
      try {
        return (await l.status()).nodes[0]!.pid!;
      } finally {
        await l.close();
      }
    }));
    const idle = Promise.all(['a', 'b'].map((n) => waitForOutput(runners[n]!, /was stopped \(topo down\); waiting for SIGTERM/)));
    await cli('down');
    await until('both QEMUs gone', () => pids.every((p) => !isRunning(p)), { timeoutMs: 30_000 });
    await idle;
    expect(runners.a!.exitCode).toBeNull();
    expect(await ready('a')).toBe(false);
    for (const n of ['a', 'b']) process.kill(-runners[n]!.pid!, 'SIGTERM');
    for (const n of ['a', 'b']) {
      const r = await runners[n]!;
      expect(r.exitCode, r.all).toBe(0);
    }
  }, 90_000);
});
