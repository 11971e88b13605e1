// A segment spread over three runners, wired exactly as `topo k8s render --host-network` says: the switch runs in
// the runner of its lowest-sorted member (h1), the others dial it; h2 reaches h3 through h1's runner, and the
// segment's impairment (applied by its host) shows in their RTT. The tools reach it through the rendered lab file.
// The host is not the first node of the file (nor of the lab file): the tools must take the segment from its view.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { execa } from 'execa';
import { parseAllDocuments } from 'yaml';
import { topo, waitForOutput, type TopoChild } from '../helpers/cli.js';
import { until } from '../helpers/wait.js';

const SEG = `name: seg
nodes: { h3: {}, h2: {}, h1: {} }
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
  expect(status!.nodes.map((n) => `${n.name} ${n.state}`)).toEqual(['h3 ready', 'h2 ready', 'h1 ready']);
  expect(status!.links[0]!.endpoints).toEqual(['h1:eth1', 'h2:eth1', 'h3:eth1']);
  // h1 listens for both members; each member dials h1.
  expect(status!.links[0]!.remote.map((e) => e.peer).sort()).toEqual(['h1:eth1', 'h1:eth1', 'h2:eth1', 'h3:eth1']);
  expect(await minRtt()).toBeLessThan(150);
  // 100 ms towards every member, all applied by the host: h2 -> h3 -> h2 crosses it twice.
  // Named by a member's endpoint, which only the host's view of the segment has besides the member's own.
  await cli('impair', 'h2:eth1', '--delay', '100ms');
  expect(await minRtt()).toBeGreaterThanOrEqual(200);
  await cli('impair', 'h2:eth1', '--clear');
  expect(await minRtt()).toBeLessThan(150);
  // Carrier off at every member, each set by its own runner (a member's runner knows h2:eth1 only by the link id).
  await cli('link', 'h2:eth1', 'down');
  for (const n of ['h1', 'h2', 'h3']) expect((await cli('exec', n, '--', 'cat', '/sys/class/net/eth1/carrier')).trim(), n).toBe('0');
  await cli('link', 'h2:eth1', 'up');
  expect(await minRtt()).toBeLessThan(150);
}, 120_000);

it('captures the segment at its host and reaches a member\'s console through the lab file', async () => {
  const pcap = path.join(dir, 'l1.pcapng');
  const capture = topo(['capture', '--lab-file', labFile, 'l1', '-w', pcap], {}, { group: true });
  // The capture is live once it wrote its header: only frames after that are in it.
  await until('capture started', async () => ((await import('node:fs')).statSync(pcap, { throwIfNoEntry: false })?.size ?? 0) > 0, { timeoutMs: 20_000 });
  await cli('exec', 'h2', '--', 'ping', '-c', '3', '-W', '3', '192.168.77.3');
  process.kill(-capture.pid!, 'SIGINT');
  await capture;
  const read = await execa('tcpdump', ['-nr', pcap], { reject: false });
  // h2 -> h3 crosses h1's switch: every request and reply is seen there.
  expect((read.stdout.match(/192\.168\.77\.2 > 192\.168\.77\.3: ICMP echo request/g) ?? []).length, read.stderr).toBeGreaterThanOrEqual(3);
  expect((read.stdout.match(/192\.168\.77\.3 > 192\.168\.77\.2: ICMP echo reply/g) ?? []).length).toBeGreaterThanOrEqual(3);

  const con = await topo(['console', '--lab-file', labFile, 'h3'], {}, { input: 'echo console-$((6*7))\n' });
  expect(con.exitCode, con.all).toBe(0);
  expect(con.stdout).toContain('console-42');
}, 120_000);
