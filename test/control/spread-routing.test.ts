// SpreadLab's routing against stub runners served over authenticated TCP: each runner is a plain LabHandle with a
// node view of the topology, recording what reaches it. Node ops go to the node's runner, link ops to the runners of
// the link's nodes (each direction reported by its owner), capture to the link's host, down to all; a runner that does
// not answer shows its node unreachable in status and is named by what needs it.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabHandle, LinkHandle, NodeHandle } from '../../src/api/handles.js';
import type { ImpairmentStatus } from '../../src/api/dataplane.js';
import type { LabStatus, LinkStatus } from '../../src/api/status.js';
import { serveLabTcp } from '../../src/control/server-tcp.js';
import { openSpreadLab, type SpreadLab } from '../../src/control/spread-lab.js';
import type { LabFile } from '../../src/control/lab-file.js';
import { collect } from './handles.js';
import { until } from './fake-lab.js';

const LINKS: Omit<LinkStatus, 'state' | 'counters'>[] = [
  { id: 'l1', endpoints: ['a:eth1', 'b:eth1'], kind: 'forwarded' },
  { id: 'l2', endpoints: ['c:eth1', 'b:eth2', 'a:eth2'], kind: 'forwarded' },
  { id: 'l3', endpoints: ['b:eth3', 'c:eth2'], kind: 'forwarded' },
];
const calls: string[] = [];
const marker = { a: 1, b: 2 } as const;

/** A runner of node `node`: its view holds the links touching it; its answers carry its marker. */
function stubRunner(node: 'a' | 'b'): LabHandle {
  const view = LINKS.filter((l) => l.endpoints.some((ep) => ep.startsWith(`${node}:`)));
  const state = new Map(view.map((l) => [l.id, 'up' as 'up' | 'down']));
  const byEp = (ep: string) => view.find((l) => l.id === ep || l.endpoints.includes(ep))!;
  const impaired = (id: string): ImpairmentStatus[] => byEp(id).endpoints.map((to) => ({ link: id, to, impair: { delayMs: marker[node] } as never }));
  const lab: LabHandle = {
    name: 'spread',
    status: async (): Promise<LabStatus> => ({
      lab: 'spread', file: '/etc/topo/topology.yaml', accel: 'tcg', seed: 5, pid: 10 + marker[node], startedAt: new Date(0).toISOString(), uptimeMs: 1, state: 'ready',
      runDir: `/run/${node}`, captureDir: '/c', nodes: [{ name: node, state: 'ready', restarts: 0, ports: [], channels: [] }],
      links: view.map((l) => ({ ...l, state: state.get(l.id)!, counters: l.endpoints.map((endpoint) => ({
        endpoint, rx: { frames: marker[node], bytes: 0 }, tx: { frames: 0, bytes: 0 }, drops: { loss: 0, queue: 0, malformed: 0, oversize: 0, down: 0, disconnected: 0 },
      })) })),
    }),
    node: (name): NodeHandle => {
      if (name !== node) throw new Error(`runner ${node} asked for node ${name}`);
      return { name, exec: (cmd) => lab.exec(name, cmd) } as NodeHandle;
    },
    exec: async (name, cmd) => {
      calls.push(`${node}: exec ${name} ${String(cmd)}`);
      return { exitCode: 0, timedOut: false, stdout: Buffer.from(`ran on ${node}`), stderr: Buffer.alloc(0) };
    },
    link: (ep): LinkHandle => {
      const l = byEp(ep);
      return {
        id: l.id,
        down: async () => void (calls.push(`${node}: link ${ep} down`), state.set(l.id, 'down')),
        up: async () => void (calls.push(`${node}: link ${ep} up`), state.set(l.id, 'up')),
        impair: async (_spec, opts) => (calls.push(`${node}: impair ${ep} ${opts?.direction ?? 'both'}`), impaired(l.id)),
        clear: async () => (calls.push(`${node}: clear ${ep}`), []),
        capture: () => (calls.push(`${node}: capture ${ep}`), Readable.from([Buffer.from(`capture at ${node}`)])),
      };
    },
    ports: async () => [],
    hostPort: async () => 0,
    impairments: async () => view.flatMap((l) => impaired(l.id)),
    down: async () => void calls.push(`${node}: down`),
    close: async () => undefined,
    [Symbol.asyncDispose]: async () => undefined,
  };
  return lab;
}

const secret = randomBytes(32);
const servers: Awaited<ReturnType<typeof serveLabTcp>>[] = [];
let closedPort: number;
let spread: SpreadLab;
const host = { file: () => '/nonexistent', journal: () => undefined, consoleLog: () => Buffer.alloc(0) };

beforeAll(async () => {
  for (const n of ['a', 'b'] as const) servers.push(await serveLabTcp(stubRunner(n), host as never, { host: '127.0.0.1', port: 0, secret }));
  const free = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => free.once('listening', r));
  closedPort = (free.address() as net.AddressInfo).port;
  await new Promise((r) => free.close(r));
  const runner = (node: string, port: number) => ({ node, host: '127.0.0.1', port, address: `127.0.0.1:${port}` });
  const file: LabFile = { file: '/tmp/spread.json', lab: 'spread', epoch: 1, secret,
    runners: [runner('a', servers[0]!.address().port), runner('b', servers[1]!.address().port), runner('c', closedPort)] };
  spread = await openSpreadLab(file);
});
afterAll(async () => {
  await spread?.close();
  for (const s of servers) await s.close();
});

const since = (n: number) => calls.slice(n).sort();

describe('SpreadLab routing', () => {
  it('status: a node per runner, the unreachable one said so; each link once, counters from their origin', async () => {
    const s = await spread.status();
    expect(s.nodes.map((n) => [n.name, n.state])).toEqual([['a', 'ready'], ['b', 'ready'], ['c', 'unreachable']]);
    expect(s.nodes[2]!.unreachable).toBe(`lab spread: the runner at 127.0.0.1:${closedPort} does not answer (ECONNREFUSED)`);
    expect(s.links.map((l) => l.id)).toEqual(['l1', 'l2', 'l3']);
    // l1: each end's counters from its own node's runner; l2 (a segment): all from its host a; l3: c's runner said nothing.
    expect(s.links.map((l) => l.counters!.map((c) => `${c.endpoint}=${c.rx.frames}`))).toEqual([
      ['a:eth1=1', 'b:eth1=2'], ['c:eth1=1', 'b:eth2=1', 'a:eth2=1'], ['b:eth3=2'],
    ]);
  });

  it('exec goes to the node\'s runner; a node whose runner is unreachable is one error naming it', async () => {
    const n = calls.length;
    expect((await spread.exec('a', 'x')).stdout.toString()).toBe('ran on a');
    expect((await spread.node('b').exec('y')).stdout.toString()).toBe('ran on b');
    expect(since(n)).toEqual(['a: exec a x', 'b: exec b y']);
    expect(() => spread.node('c')).toThrow(expect.objectContaining({ code: 'E_NOT_RUNNING', node: 'c' }));
    expect(() => spread.node('zz')).toThrow(expect.objectContaining({ code: 'E_NO_NODE' }));
  });

  it('impair reaches the runners owning a direction of the link (a segment: its host alone); each direction comes back from its owner', async () => {
    let n = calls.length;
    const r = await spread.link('a:eth1').impair({ delay: '5ms' }, { direction: 'out' });
    expect(since(n)).toEqual(['a: impair a:eth1 out', 'b: impair a:eth1 out']);
    // Towards a:eth1 the sender is b (marker 2); towards b:eth1, a (marker 1).
    expect(r.map((s) => [s.to, (s.impair as { delayMs: number }).delayMs])).toEqual([['a:eth1', 2], ['b:eth1', 1]]);
    n = calls.length;
    const seg = await spread.link('l2').impair({ delay: '1ms' });
    // The segment's host (a) applies every direction; its members' runners, which know only their end and a's, are not asked.
    expect(since(n)).toEqual(['a: impair l2 both']);
    expect(seg.map((s) => `${s.to}=${(s.impair as { delayMs: number }).delayMs}`)).toEqual(['c:eth1=1', 'b:eth2=1', 'a:eth2=1']);
    // c's runner owns the direction towards b:eth3 of l3: nothing is asked of anyone, the error names c.
    n = calls.length;
    await expect(spread.link('l3').impair({ delay: '1ms' })).rejects.toMatchObject({ code: 'E_NOT_RUNNING', node: 'c' });
    expect(since(n)).toEqual([]);
    // The union needs every owner: with c's runner away, c's directions are unknown, and that is said rather than left out.
    await expect(spread.impairments()).rejects.toMatchObject({ code: 'E_NOT_RUNNING', node: 'c' });
  });

  it('link down reaches each runner of the link; with one unreachable, none is touched and the error names it', async () => {
    let n = calls.length;
    const l = await spread.setLink('b:eth1', 'down');
    expect({ id: l.id, state: l.state }).toEqual({ id: 'l1', state: 'down' });
    expect(since(n)).toEqual(['a: link b:eth1 down', 'b: link b:eth1 down']);
    await spread.link('l1').up();
    n = calls.length;
    await expect(spread.link('l3').down()).rejects.toMatchObject({ code: 'E_NOT_RUNNING', node: 'c' });
    expect(since(n)).toEqual([]);
  });

  it('capture streams from the link\'s host runner', async () => {
    const n = calls.length;
    const got = collect(spread.link('c:eth2').capture());
    await until(() => (got.text() === 'capture at b' ? true : undefined), 'the capture');
    const raw = collect(await spread.open({ op: 'capture', endpoint: 'l1' }));
    await until(() => (raw.text() === 'capture at a' ? true : undefined), 'the capture');
    expect(since(n)).toEqual(['a: capture l1', 'b: capture c:eth2']);
  });

  it('down stops every reachable runner at once and names the one it could not reach', async () => {
    const n = calls.length;
    await expect(spread.down()).rejects.toMatchObject({
      message: `lab spread: 1 of 3 nodes were not stopped (c: its runner (127.0.0.1:${closedPort}) is unreachable: lab spread: the runner at 127.0.0.1:${closedPort} does not answer (ECONNREFUSED))`,
    });
    expect(since(n)).toEqual(['a: down', 'b: down']);
  });
});
