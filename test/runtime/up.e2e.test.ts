// End to end under TCG: the triangle boots with the real default guest, links and forwards carry traffic.
import { readdir, readlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Lab } from '../../src/runtime/lab.js';
import { up } from '../../src/control/up.js';
import { loadTopology } from '../../src/topology/index.js';
import { repoRoot } from '../helpers/cli.js';

let lab: Lab;
let base: string;

beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-e2e-'));
  const loaded = await loadTopology(path.join(repoRoot, 'topologies/triangle.yaml'));
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.diagnostics));
  // Same links as the example, plus a forward to a web server started by a run: command.
  const r1 = loaded.topology.nodes[0]!;
  const topology = {
    ...loaded.topology,
    name: 'e2e-triangle',
    nodes: [
      { ...r1, ports: [{ guest: 8080, host: 'auto' as const, protocol: 'tcp' as const }], run: ['mkdir -p /www && echo hello-from-r1 > /www/index.html && httpd -p 8080 -h /www'] },
      ...loaded.topology.nodes.slice(1),
    ],
  };
  lab = await up(topology, { accel: 'tcg', runDirBase: base });
});

afterAll(async () => {
  await lab?.down({ force: true });
  await rm(base, { recursive: true, force: true });
});

describe('topo up: triangle', () => {
  it('every node is ready and every link carries a ping between its endpoints', async () => {
    expect(lab.supervisor.nodes().map((n) => n.state)).toEqual(['ready', 'ready', 'ready']);
    for (const link of lab.topology.links) {
      const [a, b] = link.endpoints;
      const target = b!.address!.split('/')[0]!;
      const res = await lab.exec(a!.node, `ping -c 1 -W 3 ${target}`, { timeoutMs: 15_000 });
      expect({ link: link.id, code: res.exitCode, out: res.exitCode === 0 ? '' : res.stdout.toString() }).toEqual({ link: link.id, code: 0, out: '' });
    }
  });

  it('interfaces carry the names, MACs and addresses from the file', async () => {
    const r2 = lab.topology.nodes.find((n) => n.name === 'r2')!;
    for (const i of r2.interfaces.filter((x) => x.kind === 'link')) {
      const res = await lab.exec('r2', `cat /sys/class/net/${i.name}/address; ip -o addr show dev ${i.name}`);
      expect(res.stdout.toString()).toContain(i.mac);
      expect(res.stdout.toString()).toContain(i.addresses[0]);
    }
  });

  it('a forwarded host port reaches the guest', async () => {
    const fwd = lab.forwards.get('r1')![0]!;
    const body = await get(`http://127.0.0.1:${fwd.host}/index.html`);
    expect(body.trim()).toBe('hello-from-r1');
  });

  it('no QEMU holds a socket that belongs to another QEMU (no fd leaks between children)', async () => {
    const sockets = new Map<string, Set<string>>();
    for (const { name, pid } of lab.supervisor.nodes()) sockets.set(name, await socketInodes(pid!));
    const names = [...sockets.keys()];
    for (const a of names) for (const b of names) {
      if (a >= b) continue;
      const shared = [...sockets.get(a)!].filter((s) => sockets.get(b)!.has(s));
      expect({ a, b, shared }).toEqual({ a, b, shared: [] });
    }
  });

  it('down stops every QEMU and removes the run directory', async () => {
    const pids = lab.supervisor.nodes().map((n) => n.pid!);
    await lab.down();
    for (const pid of pids) expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(existsSync(lab.runDir.path)).toBe(false);
  });
});

async function socketInodes(pid: number): Promise<Set<string>> {
  const out = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    if (target.startsWith('socket:')) out.add(target);
  }
  return out;
}

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}
