// Live captures of a running link: several at once, each bounded, none able to hold up the link's traffic.
import { spawn } from 'node:child_process';
import { text } from 'node:stream/consumers';
import { afterEach, describe, expect, it } from 'vitest';
import type { CaptureStream } from '../../src/net/capture.js';
import { BROADCAST, payloadOf, readPcap, until } from './helpers.js';
import { Harness, makeLink } from './link-harness.js';
import { readPcapng } from './pcapng-reader.js';

async function drain(c: CaptureStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of c) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('ForwardedLink.capture', () => {
  const h = new Harness();
  afterEach(() => h.stop());

  it('records every frame entering a segment once, on the interface of the endpoint it came from', async () => {
    const { fl, vms: [a, b, c] } = h.start(makeLink(3));
    a!.send(BROADCAST, 'before capture');
    await until(() => b!.frames.length === 1);
    const ng = fl.capture({ format: 'pcapng' });
    const classic = fl.capture();
    const ngBytes = drain(ng);
    const classicBytes = drain(classic);
    expect(fl.stats().captures).toHaveLength(2);
    // One at a time: frames from different sockets have no order of their own.
    b!.send(BROADCAST, 'from b');
    await until(() => a!.frames.length === 1 && c!.frames.length === 2);
    c!.send(a!.mac, 'from c');
    await until(() => a!.frames.length === 2);
    a!.send(c!.mac, 'from a');
    await until(() => c!.frames.length === 3);
    ng.close();
    expect(fl.stats().captures).toEqual([{ format: 'pcap', frames: 3, bytes: 180, drops: 0 }]);
    c!.send(BROADCAST, 'after the pcapng closed');
    await until(() => a!.frames.length === 3);
    await fl.close();
    const p = readPcapng(await ngBytes);
    expect(p.interfaces.map((i) => i.name)).toEqual(['r0:eth1', 'r1:eth1', 'r2:eth1']);
    expect(p.packets.map((x) => [x.ifId, payloadOf(x.data)])).toEqual([[1, 'from b'], [2, 'from c'], [0, 'from a']]);
    // Closing the link ends the remaining capture.
    expect(readPcap(await classicBytes).records.map((r) => payloadOf(r.data))).toEqual(['from b', 'from c', 'from a', 'after the pcapng closed']);
  });

  it('drops to a capture nobody reads, never the link\'s traffic', async () => {
    const { fl, vms: [a, b] } = h.start(makeLink(2));
    const stuck = fl.capture({ maxBufferedBytes: 100_000 });
    for (let i = 0; i < 1000; i++) a!.send(b!.mac, `n${i}`, 1500);
    await until(() => b!.frames.length === 1000, 'every frame delivered');
    const s = fl.stats();
    // 24-byte header + 65 records of 16 + 1500 bytes; the 66th would pass the bound.
    expect(stuck.frames).toBe(65);
    expect(stuck.drops).toBe(935);
    expect(s.captures).toEqual([{ format: 'pcap', frames: 65, bytes: 97_500, drops: 935 }]);
    expect(s.endpoints[1]!.drops).toEqual({ loss: 0, queue: 0, malformed: 0, oversize: 0, down: 0, disconnected: 0 });
  });

  it('detaches a destroyed capture', async () => {
    const { fl, vms: [a, b] } = h.start(makeLink(2));
    const c = fl.capture();
    c.destroy();
    a!.send(b!.mac, 'x');
    await until(() => b!.frames.length === 1);
    expect(fl.stats().captures).toEqual([]);
    expect(c.frames).toBe(0);
  });

  it('streams a pcapng that tcpdump reads live from its stdin', async () => {
    const { fl, vms: [a, b] } = h.start(makeLink(2));
    const td = spawn('tcpdump', ['-r', '-', '-nn', '-e'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out = text(td.stdout);
    const err = text(td.stderr);
    const cap = fl.capture({ format: 'pcapng' });
    cap.pipe(td.stdin);
    a!.send(b!.mac, 'one');
    b!.send(a!.mac, 'two', 100);
    await until(() => cap.frames === 2);
    cap.close();
    const code = await new Promise<number | null>((r) => td.once('close', r));
    expect(await err).toMatch(/^reading from file -, link-type EN10MB/);
    expect(code).toBe(0);
    expect((await out).split('\n').filter((l) => /^\d/.test(l)).map((l) => l.replace(/^\S+ /, ''))).toEqual([
      '02:00:00:00:00:00 > 02:00:00:00:00:01, ethertype Unknown (0x88b5), length 60: ',
      '02:00:00:00:00:01 > 02:00:00:00:00:00, ethertype Unknown (0x88b5), length 100: ',
    ]);
  });

  it('refuses to capture a closed link', async () => {
    const { fl } = h.start(makeLink(2));
    await fl.close();
    expect(() => fl.capture()).toThrow('link l1 is closed');
  });
});
