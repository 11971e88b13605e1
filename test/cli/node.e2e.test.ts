// Two `topo node` runners on 127.0.0.1 share a link: ping across, impair the cross-runner link, kill one runner
// and start it again (the peer's guest sees carrier off, then on, and keeps running).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type RemoteLab } from '../../src/control/remote-lab.js';
import { isRunning } from '../helpers/proc.js';
import { repoRoot, topo, waitForOutput, type TopoChild } from '../helpers/cli.js';
import { until } from '../helpers/wait.js';

const file = path.join(repoRoot, 'topologies/pair.yaml');
let dir: string;
let secretFile: string;
let linkPort: number;
const ports: Record<string, number> = {};
const runners: Record<string, TopoChild> = {};

function startRunner(node: 'a' | 'b'): TopoChild {
  // a sorts first: it dials b, which listens.
  const link = node === 'a' ? `l1@b:eth1=dial:127.0.0.1:${linkPort}` : `l1@a:eth1=listen:${linkPort}`;
  const child = topo(['node', file, node, '--secret-file', secretFile, '--epoch', '7', '--run-dir', path.join(dir, node),
    '--health-port', String(ports[node]), '--link', link], {}, { group: true });
  runners[node] = child;
  return child;
}

const ready = async (node: string) => (await fetch(`http://127.0.0.1:${ports[node]}/ready`).catch(() => undefined))?.status === 200;
const lab = (node: string): Promise<RemoteLab> => connect('pair', { runDirBase: path.join(dir, node) });

async function pingMin(from: RemoteLab, to: string): Promise<number> {
  const r = await from.exec('a', ['ping', '-c', '5', '-i', '0.3', '-W', '3', to]);
  expect(r.exitCode, r.stdout.toString()).toBe(0);
  return Number(/min\/avg\/max = ([\d.]+)\//.exec(r.stdout.toString())![1]);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'topo-node-e2e-'));
  secretFile = path.join(dir, 'secret');
  await writeFile(secretFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  linkPort = await getPort();
  ports.a = await getPort();
  ports.b = await getPort();
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
  it('carry a link between them: ping, impair (each runner impairs its egress), clear', async () => {
    const a = await lab('a');
    const b = await lab('b');
    try {
      expect(await pingMin(a, '10.0.0.2')).toBeLessThan(200);
      // Each runner owns one direction: a impairs frames towards b, b towards a.
      const fromA = await a.link('l1').impair({ delay: '150ms' });
      const fromB = await b.link('l1').impair({ delay: '150ms' });
      expect(fromA.map((s) => s.to)).toEqual(['b:eth1']);
      expect(fromB.map((s) => s.to)).toEqual(['a:eth1']);
      expect(await pingMin(a, '10.0.0.2')).toBeGreaterThanOrEqual(300);
      await a.link('l1').clear();
      await b.link('l1').clear();
      expect(await pingMin(a, '10.0.0.2')).toBeLessThan(200);
      const link = (await a.status()).links.find((l) => l.id === 'l1')!;
      expect(link.remote).toMatchObject([{ peer: 'b:eth1', role: 'dial', connected: true }]);
    } finally {
      await a.close();
      await b.close();
    }
  }, 120_000);

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

  it('stops on SIGTERM to its process group, QEMU and all', async () => {
    const a = await lab('a');
    const pid = (await a.status()).nodes[0]!.pid!;
    await a.close();
    process.kill(-runners.a!.pid!, 'SIGTERM');
    const r = await runners.a!;
    expect(r.exitCode, r.all).toBe(0);
    expect(isRunning(pid)).toBe(false);
  }, 60_000);
});
