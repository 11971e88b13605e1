import { spawn } from 'node:child_process';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { CaptureStream } from '../../src/net/capture.js';
import { PCAP_SNAPLEN } from '../../src/net/pcap.js';
import { pcapngPacket } from '../../src/net/pcapng.js';
import { BROADCAST, ethFrame, payloadOf, readPcap } from './helpers.js';
import { readPcapng } from './pcapng-reader.js';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';
const T0 = 1_700_000_000_123.456;

async function drain(c: CaptureStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of c) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** tcpdump's reading of a capture on its stdin: one line per frame. */
async function tcpdump(capture: Buffer): Promise<{ code: number | null; out: string; err: string }> {
  const p = spawn('tcpdump', ['-r', '-', '-nn', '-e', '-tt'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out = text(p.stdout);
  const err = text(p.stderr);
  p.stdin.end(capture);
  const code = await new Promise<number | null>((r) => p.once('close', r));
  return { code, out: await out, err: await err };
}

describe('CaptureStream', () => {
  it('streams classic pcap: one global header, then a record per frame', async () => {
    const c = new CaptureStream(['r0:eth1', 'r1:eth1'], {}, () => {});
    const frames = [ethFrame(BROADCAST, A, 'one', 60), ethFrame(A, B, 'two', 1514)];
    c.record(0, frames[0]!, T0);
    c.record(1, frames[1]!, T0 + 1000);
    c.close();
    const p = readPcap(await drain(c));
    expect(p).toMatchObject({ linktype: 1, snaplen: PCAP_SNAPLEN });
    expect(p.records.map((r) => r.data)).toEqual(frames);
    expect(p.records.map((r) => [r.tsSec, r.tsUsec])).toEqual([[1_700_000_000, 123_456], [1_700_000_001, 123_456]]);
    expect(c.stats()).toEqual({ format: 'pcap', frames: 2, bytes: 1574, drops: 0 });
  });

  it('streams pcapng: one interface per endpoint, each frame on the one it came from', async () => {
    const c = new CaptureStream(['r0:eth1', 'r1:eth1', 'r2:eth3'], { format: 'pcapng' }, () => {});
    const frames = [ethFrame(BROADCAST, A, 'a', 60), ethFrame(A, B, 'odd', 61), ethFrame(B, A, 'b', 60)];
    c.record(2, frames[0]!, T0);
    c.record(0, frames[1]!, T0);
    c.record(1, frames[2]!, T0 + 1);
    c.close();
    const ng = readPcapng(await drain(c));
    expect(ng.app).toBe('topo');
    expect(ng.interfaces).toEqual(['r0:eth1', 'r1:eth1', 'r2:eth3'].map((name) => ({ linktype: 1, snaplen: PCAP_SNAPLEN, name })));
    expect(ng.packets.map((p) => [p.ifId, p.data, p.origLen])).toEqual([[2, frames[0], 60], [0, frames[1], 61], [1, frames[2], 60]]);
    expect(ng.packets.map((p) => p.tsUs)).toEqual([1_700_000_000_123_456n, 1_700_000_000_123_456n, 1_700_000_000_124_456n]);
  });

  it('truncates a pcapng record to the snaplen, keeping the original length', () => {
    const ng = readPcapng(pcapngPacket(0, T0, Buffer.alloc(PCAP_SNAPLEN + 18, 7)));
    expect(ng.packets[0]!.data.length).toBe(PCAP_SNAPLEN);
    expect(ng.packets[0]!.origLen).toBe(PCAP_SNAPLEN + 18);
  });

  it.each(['pcap', 'pcapng'] as const)('is read by tcpdump -r - (%s)', async (format) => {
    const c = new CaptureStream(['r0:eth1', 'r1:eth1'], { format }, () => {});
    c.record(0, ethFrame(BROADCAST, A, 'hello', 60), T0);
    c.record(1, ethFrame(A, B, 'reply', 100), T0 + 2.5);
    c.close();
    const res = await tcpdump(await drain(c));
    expect(res.err.trim()).toBe('reading from file -, link-type EN10MB (Ethernet), snapshot length 65535');
    expect(res.code).toBe(0);
    // Frames are summary lines; the indented lines under them are tcpdump's hex dump of an unknown ethertype.
    const lines = res.out.split('\n').filter((l) => /^\d/.test(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^1700000000\.123456 02:00:00:00:00:0a > ff:ff:ff:ff:ff:ff, ethertype Unknown \(0x88b5\), length 60/);
    expect(lines[1]).toMatch(/^1700000000\.125956 02:00:00:00:00:0b > 02:00:00:00:00:0a, ethertype Unknown \(0x88b5\), length 100/);
  });

  it('drops and counts frames beyond its bound while the reader is slow, then takes frames again', async () => {
    const c = new CaptureStream(['r0:eth1'], { maxBufferedBytes: 10_000 }, () => {});
    // Nobody reads: 24-byte header + 16 records of 16+600 bytes fit, the rest is dropped.
    for (let i = 0; i < 100; i++) c.record(0, ethFrame(BROADCAST, A, `n${i}`, 600), T0);
    expect(c.stats()).toMatchObject({ frames: 16, drops: 84 });
    const first = c.read() as Buffer;
    c.record(0, ethFrame(BROADCAST, A, 'after read', 600), T0);
    c.close();
    const p = readPcap(Buffer.concat([first, await drain(c)]));
    expect(p.records.map((r) => payloadOf(r.data))).toEqual([...Array.from({ length: 16 }, (_, i) => `n${i}`), 'after read']);
    expect(c.stats()).toMatchObject({ frames: 17, drops: 84 });
  });

  it('detaches once, on close() or on destroy()', async () => {
    let detached = 0;
    const closed = new CaptureStream([], {}, () => detached++);
    closed.close();
    closed.close();
    closed.record(0, ethFrame(BROADCAST, A, 'late'), T0);
    expect(readPcap(await drain(closed)).records).toEqual([]);
    const destroyed = new CaptureStream([], {}, () => detached++);
    destroyed.destroy();
    destroyed.close();
    expect(detached).toBe(2);
  });

  it('rejects an unknown format in one line', () => {
    expect(() => new CaptureStream([], { format: 'cap' as 'pcap' }, () => {})).toThrow('capture format must be "pcap" or "pcapng", got "cap"');
  });
});
