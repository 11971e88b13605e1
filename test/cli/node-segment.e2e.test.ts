// A segment spread over three runners, wired exactly as `topo k8s render --host-network` says: the switch runs in
// the runner of its lowest-sorted member (h1), the others dial it; h2 reaches h3 through h1's runner, and the
// segment's impairment (applied by its host) shows in their RTT. The tools reach it through the rendered lab file.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { topo, waitForOutput, type TopoChild } from '../helpers/cli.js';
import { until } from '../helpers/wait.js';

const SEG = `name: seg
nodes: { h1: {}, h2: {}, h3: {} }
links:
  - endpoints: [h1:eth1, h2:eth1, h3:eth1]
    addresses: [192.168.77.1/24, 192.168.77.2/24, 192.168.77.3/24]
`;
let dir: string;
let labFile: string;
const runners: TopoChild[] = [];
const health: number[] = [];

type Obj = { kind: string; metadata: { name: string }; data?: Record<string, string>; stringData?: Record<string, string>; spec?: any };

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'topo-node-seg-'));
  const file = path.join(dir, 'seg.yaml');
  await writeFile(file, SEG);
  labFile = path.join(dir, 'seg.lab.json');
  const r = await topo(['k8s', 'render', file, '--host-network', '--lab-file', labFile]);
  expect(r.exitCode, r.all).toBe(0);
  const objects = parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj).filter(Boolean);
  const files: Record<string, string> = {
    '/etc/topo/topology.yaml': file,
    '/etc/topo/resolved.json': path.join(dir, 'resolved.json'),
    '/etc/topo-secret/link-secret': path.join(dir, 'secret'),
  };
  await writeFile(files['/etc/topo/resolved.json']!, objects.find((o) => o.kind === 'ConfigMap')!.data!['resolved.json']!);
  await writeFile(files['/etc/topo-secret/link-secret']!, objects.find((o) => o.kind === 'Secret')!.stringData!['link-secret']!, { mode: 0o600 });
  for (const d of objects.filter((o) => o.kind === 'Deployment')) {
    const command = (d.spec.template.spec.containers[0].command as string[]).map((w) => files[w] ?? w);
    expect(command[0]).toBe('topo');
    health.push(Number(command[command.indexOf('--health-port') + 1]));
    const child = topo([...command.slice(1), '--run-dir', path.join(dir, d.metadata.name)], {}, { group: true });
    runners.push(child);
  }
  await Promise.all(runners.map((c) => waitForOutput(c, /topo node: h\d of seg is ready/)));
  const ready = (port: number) => fetch(`http://127.0.0.1:${port}/ready`).then((x) => x.status === 200, () => false);
  await until('every runner ready (links connected)', async () => (await Promise.all(health.map(ready))).every(Boolean), { timeoutMs: 60_000 });
}, 300_000);

afterAll(async () => {
  for (const c of runners) if (c.pid && c.exitCode === null) process.kill(-c.pid, 'SIGTERM');
  const results = await Promise.all(runners);
  for (const r of results) expect(r.exitCode, r.all).toBe(0);
  await rm(dir, { recursive: true, force: true });
});

const cli = async (...args: string[]) => {
  const r = await topo([args[0]!, '--lab-file', labFile, ...args.slice(1)]);
  expect(r.exitCode, `topo ${args.join(' ')}: ${r.all}`).toBe(0);
  return r.stdout;
};
const minRtt = async () => Number(/min\/avg\/max = ([\d.]+)\//.exec(await cli('exec', 'h2', '--', 'ping', '-c', '4', '-i', '0.3', '-W', '3', '192.168.77.3'))![1]);

it('runs the switch in h1\'s runner: h2 reaches h3 through it, ps shows the whole segment, its impairment applies once', async () => {
  const [status] = JSON.parse(await cli('ps', '--json')) as { nodes: { name: string; state: string }[]; links: { endpoints: string[]; remote: { peer: string }[] }[] }[];
  expect(status!.nodes.map((n) => `${n.name} ${n.state}`)).toEqual(['h1 ready', 'h2 ready', 'h3 ready']);
  expect(status!.links[0]!.endpoints).toEqual(['h1:eth1', 'h2:eth1', 'h3:eth1']);
  // h1 listens for both members; each member dials h1.
  expect(status!.links[0]!.remote.map((e) => e.peer).sort()).toEqual(['h1:eth1', 'h1:eth1', 'h2:eth1', 'h3:eth1']);
  expect(await minRtt()).toBeLessThan(150);
  // 100 ms towards every member, all applied by the host: h2 -> h3 -> h2 crosses it twice.
  await cli('impair', 'l1', '--delay', '100ms');
  expect(await minRtt()).toBeGreaterThanOrEqual(200);
  await cli('impair', 'l1', '--clear');
  expect(await minRtt()).toBeLessThan(150);
}, 120_000);
