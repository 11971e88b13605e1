// The runner-forwarded data plane with real guests: a LAN segment through the learning switch, capture, impairment.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { up } from '../../src/index.js';
import { repoRoot } from '../helpers/cli.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'topo-dp-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('forwarded links', () => {
  it('a 3-node LAN segment carries pings between every pair and is captured to a pcap', async () => {
    await using lab = await up(path.join(repoRoot, 'topologies/lan.yaml'), { accel: 'tcg', runDirBase: tmp, captureDir: path.join(tmp, 'cap') });
    for (const [from, to] of [['h1', '192.168.10.2'], ['h2', '192.168.10.3'], ['h3', '192.168.10.1']] as const) {
      const res = await lab.exec(from, `ping -c 1 -W 3 ${to}`, { timeoutMs: 15_000 });
      expect({ from, to, code: res.exitCode }).toEqual({ from, to, code: 0 });
    }
    await lab.down();
    const pcap = await readFile(path.join(tmp, 'cap', 'l1.pcap'));
    expect(pcap.readUInt32LE(0)).toBe(0xa1b2c3d4);
    // ICMP echo requests (IPv4 protocol 1, type 8) appear in the capture.
    expect(countIcmpEcho(pcap)).toBeGreaterThanOrEqual(3);
  });

  it('an impaired WAN link delays traffic by at least its configured delay each way', async () => {
    await using lab = await up(path.join(repoRoot, 'topologies/wan.yaml'), { accel: 'tcg', runDirBase: tmp });
    const res = await lab.exec('west', 'ping -c 3 -W 5 172.16.0.2', { timeoutMs: 30_000 });
    expect(res.exitCode).toBe(0);
    const min = Number(/min\/avg\/max = ([\d.]+)/.exec(res.stdout.toString())?.[1]);
    // 40 ms delay and 5 ms jitter in each direction: a round trip can't be shorter than 70 ms.
    expect(min).toBeGreaterThanOrEqual(70);
    const routed = await lab.exec('west-host', 'ping -c 1 -W 5 10.20.0.2', { timeoutMs: 30_000 });
    expect(routed.exitCode).toBe(0);
  });
});

function countIcmpEcho(pcap: Buffer): number {
  let n = 0;
  for (let off = 24; off + 16 <= pcap.length; ) {
    const len = pcap.readUInt32LE(off + 8);
    const frame = pcap.subarray(off + 16, off + 16 + len);
    if (frame.readUInt16BE(12) === 0x0800 && frame[23] === 1 && frame[34] === 8) n++;
    off += 16 + len;
  }
  return n;
}
