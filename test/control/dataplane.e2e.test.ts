// The data plane at run time through the CLI: impair and clear, loss, a live capture read by tcpdump, counters in ps, MTU.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topo } from '../helpers/cli.js';

let base: string;
const run = (args: string[]) => topo(args, { TOPO_RUN_DIR: base });

interface Counters {
  endpoint: string;
  rx: { frames: number };
  drops: Record<string, number>;
}
const linkCounters = async (id: string): Promise<Counters[]> => {
  const [lab] = JSON.parse((await run(['ps', '--json'])).stdout) as { links: { id: string; counters?: Counters[] }[] }[];
  return lab!.links.find((l) => l.id === id)!.counters!;
};
const frames = (c: Counters[]) => c.reduce((n, e) => n + e.rx.frames, 0);

/** ping's average round trip in ms, and its loss in percent. */
async function ping(count: number, interval = '0.2'): Promise<{ avg: number; loss: number }> {
  const r = await run(['exec', 'dp', 'a', '--', `ping -c ${count} -i ${interval} -W 2 10.0.5.2`]);
  const loss = Number(/(\d+(?:\.\d+)?)% packet loss/.exec(r.stdout)?.[1] ?? NaN);
  const avg = Number(/= [\d.]+\/([\d.]+)\//.exec(r.stdout)?.[1] ?? NaN);
  return { avg, loss };
}

beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-dp-'));
  const file = path.join(base, 'dp.yaml');
  await writeFile(
    file,
    'name: dp\nseed: 7\ndefaults: { memory: 192M, host_network: false }\nnodes:\n  a: {}\n  b: {}\nlinks:\n' +
      '  - endpoints: [a:eth0, b:eth0]\n    addresses: [10.0.5.1/24, 10.0.5.2/24]\n    forward: true\n' +
      '  - endpoints: [a:eth1, b:eth1]\n    addresses: [10.0.6.1/24, 10.0.6.2/24]\n',
  );
  const up = await run(['up', '--detach', file, '--accel', 'tcg']);
  expect(up.exitCode).toBe(0);
  expect(up.stdout).toMatch(/seed 7/);
});

afterAll(async () => {
  await run(['down', '--all']);
  await rm(base, { recursive: true, force: true });
});

describe('the data plane of a running lab', () => {
  it('impair raises round trips by at least twice the delay; --clear restores them', async () => {
    const before = await ping(3);
    expect(before.loss).toBe(0);
    const set = await run(['impair', 'dp', 'a:eth0', '--delay', '100ms']);
    expect(set.exitCode).toBe(0);
    expect(set.stdout).toMatch(/l1 to b:eth0: delay 100ms/);
    const slow = await ping(3);
    expect(slow.avg).toBeGreaterThanOrEqual(200);
    expect((await run(['impair', 'dp', '--show', '--json'])).stdout).toMatch(/"delayMs": 100/);
    expect((await run(['impair', 'dp', 'a:eth0', '--clear'])).exitCode).toBe(0);
    const after = await ping(3);
    expect(after.avg).toBeLessThan(slow.avg - 150);
  });

  it('20% loss shows in ping statistics and in the counters; the direction flag limits it to one way', async () => {
    const c0 = await linkCounters('l1');
    expect((await run(['impair', 'dp', 'a:eth0', '--loss', '20%'])).exitCode).toBe(0);
    const lossy = await ping(60, '0.05');
    expect(lossy.loss).toBeGreaterThan(5);
    expect(lossy.loss).toBeLessThan(90);
    const c1 = await linkCounters('l1');
    expect(frames(c1)).toBeGreaterThan(frames(c0));
    expect(c1.reduce((n, e) => n + (e.drops.loss ?? 0), 0)).toBeGreaterThan(0);
    await run(['impair', 'dp', 'a:eth0', '--clear']);
    expect((await run(['impair', 'dp', 'a:eth0', '--direction', 'in', '--delay', '20ms'])).stdout).toMatch(/to a:eth0: delay 20ms[\s\S]*to b:eth0: none/);
    await run(['impair', 'dp', 'a:eth0', '--clear']);
  });

  it('a live capture of a ping opens in tcpdump with the echo request and reply', async () => {
    const pcap = path.join(base, 'live.pcap');
    const cap = run(['capture', 'dp', 'a:eth0', '-w', pcap]);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await ping(2)).loss).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    cap.kill('SIGINT');
    expect((await cap).exitCode).toBe(0);
    const dump = await execa('tcpdump', ['-n', '-r', pcap], { reject: false });
    expect(dump.stdout).toMatch(/10\.0\.5\.1 > 10\.0\.5\.2: ICMP echo request/);
    expect(dump.stdout).toMatch(/10\.0\.5\.2 > 10\.0\.5\.1: ICMP echo reply/);
    expect((await readFile(pcap)).readUInt32LE(0)).toBe(0xa1b2c3d4);
  });

  it('a capture piped to a reader that goes away stops cleanly, the lab keeps running', async () => {
    const cap = run(['capture', 'dp', 'b:eth0']);
    cap.stdout?.destroy();
    await run(['exec', 'dp', 'a', '--', 'ping -c 2 -i 0.2 10.0.5.2']);
    cap.kill('SIGTERM');
    await cap;
    expect((await ping(1)).loss).toBe(0);
  });

  it('a direct link cannot be impaired at run time, and says how to make it forwarded; bad values read as in a file', async () => {
    const direct = await run(['impair', 'dp', 'a:eth1', '--delay', '10ms']);
    expect(direct.exitCode).toBe(1);
    expect(direct.stderr).toMatch(/link l2 \(a:eth1 b:eth1\) is a direct socketpair.*forward: true.*--forward-all/);
    const bad = await run(['impair', 'dp', 'a:eth0', '--loss', '150%']);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/impair loss "150%": 150% is over 100; a percentage is 0 to 100/);
    const cap = await run(['capture', 'dp', 'a:eth1', '-w', path.join(base, 'x.pcap')]);
    expect(cap.stderr).toMatch(/direct socketpair/);
  });

  it('ps shows the link forwarded with counters', async () => {
    const out = (await run(['ps'])).stdout;
    expect(out).toMatch(/l1\s+a:eth0 b:eth0\s+up\s+forwarded\s+\d+/);
    expect(out).toMatch(/l2\s+a:eth1 b:eth1\s+up\s+direct\s+-/);
  });

  it('the link keeps its MTU when both guests raise theirs: 8042-byte frames are dropped and counted as oversize', async () => {
    const mtu = (n: string, v: number) => run(['exec', 'dp', n, '--', `ip link set dev eth0 mtu ${v}`]);
    for (const n of ['a', 'b']) expect((await mtu(n, 9000)).exitCode).toBe(0);
    const big = await run(['exec', 'dp', 'a', '--', 'ping -c 2 -W 2 -s 8000 10.0.5.2']);
    expect(big.stdout).toMatch(/100% packet loss/);
    const a = (await linkCounters('l1')).find((c) => c.endpoint === 'a:eth0')!;
    expect(a.drops.oversize).toBeGreaterThanOrEqual(2);
    expect((await run(['ps'])).stdout).toMatch(/l1\s+a:eth0 b:eth0\s+up\s+forwarded\s+\d+\s+.*oversize [1-9]/);
    for (const n of ['a', 'b']) expect((await mtu(n, 1500)).exitCode).toBe(0);
    expect((await ping(1)).loss).toBe(0);
  });
});
