// Per-endpoint counters of a forwarded link: the documented stats() shape and every drop cause.
import { afterEach, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../src/net/framing.js';
import { BROADCAST, until } from './helpers.js';
import { Harness, NONE, makeLink } from './link-harness.js';

const zeroDrops = { loss: 0, queue: 0, malformed: 0, oversize: 0, down: 0, disconnected: 0 };

describe('ForwardedLink.stats', () => {
  const h = new Harness();
  afterEach(() => h.stop());

  it('has the documented JSON shape: frames and bytes each way, drops by cause, per endpoint', async () => {
    const { fl, vms: [a, b] } = h.start(makeLink(2));
    for (let i = 0; i < 3; i++) a!.send(b!.mac, `${i}`);
    b!.send(a!.mac, 'back', 100);
    await until(() => b!.frames.length === 3 && a!.frames.length === 1);
    const s = fl.stats();
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    expect(s).toEqual({
      id: 'l1',
      mode: 'wire',
      captures: [],
      endpoints: [
        {
          index: 0, node: 'r0', iface: 'eth1', up: true, connected: true, ingressPaused: false,
          rx: { frames: 3, bytes: 180 }, tx: { frames: 1, bytes: 100 }, drops: zeroDrops,
          rxFrames: 3, rxBytes: 180, txFrames: 1, txBytes: 100, txDrops: 0, protocolErrors: 0, downDrops: 0,
        },
        {
          index: 1, node: 'r1', iface: 'eth1', up: true, connected: true, ingressPaused: false,
          rx: { frames: 1, bytes: 100 }, tx: { frames: 3, bytes: 180 }, drops: zeroDrops,
          rxFrames: 1, rxBytes: 100, txFrames: 3, txBytes: 180, txDrops: 0, protocolErrors: 0, downDrops: 0,
        },
      ],
    });
  });

  it('counts each drop cause on the endpoint it belongs to', async () => {
    const { fl, vms: [a, b, c, d] } = h.start(makeLink(4), { maxQueueBytes: 10_000 });
    // loss: everything towards r1 is lost.
    fl.setImpairment(1, { ...NONE, lossPct: 100 });
    // down: r2 is unplugged, both ways.
    fl.setEndpointUp(2, false);
    a!.send(BROADCAST, 'flood');
    c!.send(BROADCAST, 'from the unplugged one');
    // malformed: r0 sends a runt.
    a!.sock.write(encodeFrame(Buffer.alloc(10)));
    await until(() => d!.frames.length === 1 && fl.stats().endpoints[2]!.drops.down === 2 && fl.stats().endpoints[0]!.drops.malformed === 1);
    // queue: r3 (learned first, so the burst is not flooded) stops reading and its bounded queue overflows.
    d!.send(a!.mac, 'r3 is here');
    await until(() => a!.frames.length === 1);
    d!.sock.pause();
    for (let i = 0; i < 2000; i++) a!.send(d!.mac, `q${i}`, 1500);
    await until(() => fl.stats().endpoints[0]!.rx.frames === 2001, 'all queued traffic received');
    // disconnected: r3's VM goes away; what is still sent to it has nowhere to go.
    await d!.close();
    await until(() => !fl.stats().endpoints[3]!.connected);
    a!.send(d!.mac, 'to nobody');
    await until(() => fl.stats().endpoints[3]!.drops.disconnected === 1);

    const s = fl.stats().endpoints;
    expect(s.map((e) => e.drops.loss)).toEqual([0, 1, 0, 0]);
    expect(s.map((e) => e.drops.down)).toEqual([0, 0, 2, 0]);
    expect(s.map((e) => e.drops.malformed)).toEqual([1, 0, 0, 0]);
    expect(s.map((e) => e.drops.disconnected)).toEqual([0, 0, 0, 1]);
    expect(s[3]!.drops.queue).toBeGreaterThan(0);
    // Every frame for r3 was either handed to it or dropped for a reason.
    expect(s[3]!.tx.frames + s[3]!.drops.queue + s[3]!.drops.disconnected).toBe(2002);
    expect(s.map((e) => e.drops.queue).slice(0, 3)).toEqual([0, 0, 0]);
    expect(s[2]!.rx.frames).toBe(1);
  });

  it('counts impairment backlog drops as queue drops of that direction', async () => {
    const { fl, vms: [a, b] } = h.start(makeLink(2));
    // 8 kbit/s: the 1000-frame rate backlog fills at once and the rest is dropped.
    fl.setImpairment(1, { ...NONE, rateBps: 8_000 });
    for (let i = 0; i < 1200; i++) a!.send(b!.mac, `${i}`);
    await until(() => fl.stats().endpoints[1]!.impair?.in === 1200);
    expect(fl.stats().endpoints[1]!.drops.queue).toBe(fl.stats().endpoints[1]!.impair!.queueDrops);
    expect(fl.stats().endpoints[1]!.drops.queue).toBeGreaterThanOrEqual(199);
  });

  it('forwards without counting when counters are off', async () => {
    const { fl, vms: [a, b] } = h.start(makeLink(2), { counters: false });
    a!.send(b!.mac, 'x');
    await until(() => b!.frames.length === 1);
    expect(fl.stats().endpoints.map((e) => [e.rx, e.tx])).toEqual([
      [{ frames: 0, bytes: 0 }, { frames: 0, bytes: 0 }], [{ frames: 0, bytes: 0 }, { frames: 0, bytes: 0 }],
    ]);
  });
});
