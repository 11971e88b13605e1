// The link's MTU holds on forwarded links and segments: longer frames are dropped and counted as `oversize`.
import { afterEach, describe, expect, it } from 'vitest';
import { encodeFrame, exceedsMtu } from '../../src/net/framing.js';
import { BROADCAST, ethFrame, mac, until } from './helpers.js';
import { Harness, makeLink } from './link-harness.js';

/** A frame of exactly `size` bytes with the given VLAN tags (TPIDs) in front of its EtherType. */
function tagged(size: number, tpids: number[]): Buffer {
  const f = Buffer.alloc(size);
  mac(BROADCAST).copy(f, 0);
  let off = 12;
  for (const t of tpids) {
    f.writeUInt16BE(t, off);
    f.writeUInt16BE(10, off + 2);
    off += 4;
  }
  f.writeUInt16BE(0x0800, off);
  return f;
}

describe('exceedsMtu', () => {
  it('allows the MTU plus the 14-byte header, and 4 bytes more per VLAN tag (at most two)', () => {
    expect([1514, 1515].map((n) => exceedsMtu(tagged(n, []), 1500))).toEqual([false, true]);
    expect([1518, 1519].map((n) => exceedsMtu(tagged(n, [0x8100]), 1500))).toEqual([false, true]);
    expect([1522, 1523].map((n) => exceedsMtu(tagged(n, [0x88a8, 0x8100]), 1500))).toEqual([false, true]);
    expect(exceedsMtu(tagged(1527, [0x88a8, 0x8100, 0x8100]), 1500)).toBe(true);
    expect([1414, 1415].map((n) => exceedsMtu(tagged(n, []), 1400))).toEqual([false, true]);
  });
});

describe('a forwarded link with mtu 1400', () => {
  const h = new Harness();
  afterEach(() => h.stop());

  it('drops frames longer than 1414 bytes, counts them on the sender, keeps them out of captures and forwards the rest', async () => {
    const { fl, vms: [a, b] } = h.start(makeLink(2, { mtu: 1400 }));
    const cap = fl.capture();
    cap.resume();
    a!.send(b!.mac, 'jumbo', 8042);
    a!.send(b!.mac, 'one too long', 1415);
    a!.send(b!.mac, 'fits', 1414);
    b!.send(a!.mac, 'reply too long', 1500);
    b!.send(a!.mac, 'reply', 100);
    await until(() => b!.frames.length === 1 && a!.frames.length === 1);
    expect([b!.payloads(), a!.payloads()]).toEqual([['fits'], ['reply']]);
    const [sa, sb] = fl.stats().endpoints;
    expect([sa!.drops.oversize, sb!.drops.oversize]).toEqual([2, 1]);
    expect([sa!.rx.frames, sb!.tx.frames]).toEqual([3, 1]);
    expect(fl.stats().captures[0]!.frames).toBe(2);
    cap.destroy();
  });

  it('holds on a switched segment too, for unicast and broadcast; a tagged frame may be 4 bytes longer', async () => {
    const { fl, vms: [a, b, c] } = h.start(makeLink(3, { mtu: 1400 }));
    a!.sock.write(encodeFrame(ethFrame(BROADCAST, a!.mac, 'flood too long', 1415)));
    b!.send(a!.mac, 'unicast too long', 2000);
    const vlan = tagged(1418, [0x8100]);
    mac(a!.mac).copy(vlan, 6);
    a!.sock.write(encodeFrame(vlan));
    await until(() => b!.frames.length === 1 && c!.frames.length === 1);
    expect(b!.frames.map((f) => [f.length, f.readUInt16BE(12)])).toEqual([[1418, 0x8100]]);
    expect(a!.frames).toEqual([]);
    expect(fl.stats().endpoints.map((e) => e.drops.oversize)).toEqual([1, 1, 0]);
  });
});
