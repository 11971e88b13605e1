// Broken input from a guest costs that guest's port at most: never the runner, never another link.
import { afterEach, describe, expect, it } from 'vitest';
import type { TopoError } from '../../src/errors.js';
import { encodeFrame, encodeHeader } from '../../src/net/framing.js';
import { BROADCAST, until } from './helpers.js';
import { Harness, makeLink } from './link-harness.js';

describe('malformed input on a forwarded link', () => {
  const h = new Harness();
  afterEach(() => h.stop());

  it('skips runts and zero lengths, counts them on the sender, and keeps forwarding', async () => {
    const { fl, vms: [a, b] } = h.start(makeLink(2));
    a!.sock.write(Buffer.concat([encodeFrame(Buffer.alloc(0)), encodeFrame(Buffer.alloc(13, 1))]));
    a!.send(b!.mac, 'after runts');
    await until(() => b!.frames.length === 1);
    expect(b!.payloads()).toEqual(['after runts']);
    const [sa, sb] = fl.stats().endpoints;
    expect(sa!.drops.malformed).toBe(2);
    expect(sa!.rx.frames).toBe(1);
    expect(sb!.drops.malformed).toBe(0);
    expect(sa!.connected).toBe(true);
  });

  it('closes only the port with a bad length, reports it once, and other links keep running', async () => {
    const errors: TopoError[] = [];
    const one = h.start(makeLink(3), { onError: (e) => errors.push(e) });
    const two = h.start(makeLink(2, { id: 'l2' }), { onError: (e) => errors.push(e) });
    const [a, b, c] = one.vms;
    c!.sock.write(encodeHeader(70_000));
    await until(() => c!.closed, 'offender disconnected');
    expect(errors.map((e) => [e.code, e.link, e.node])).toEqual([['NET_PROTOCOL', 'l1', 'r2']]);
    expect(errors[0]!.message).toBe('link l1: r2:eth1 broke the frame protocol (frame length 70000 exceeds 65535); port closed');
    a!.send(BROADCAST, 'same link');
    two.vms[0]!.send(two.vms[1]!.mac, 'other link');
    await until(() => b!.frames.length === 1 && two.vms[1]!.frames.length === 1);
    const s = one.fl.stats().endpoints[2]!;
    expect(s).toMatchObject({ connected: false, drops: { malformed: 1, disconnected: 1 } });
    expect(two.fl.stats().endpoints.map((e) => e.drops.malformed)).toEqual([0, 0]);
  });

  it('counts a frame cut off by a peer that vanished, and goes on for the others', async () => {
    const { fl, vms: [a, b, c] } = h.start(makeLink(3));
    c!.sock.end(Buffer.concat([encodeHeader(1000), Buffer.alloc(100)]));
    await until(() => !fl.stats().endpoints[2]!.connected, 'port closed');
    expect(fl.stats().endpoints[2]!.drops.malformed).toBe(1);
    a!.send(BROADCAST, 'still here');
    await until(() => b!.frames.length === 1);
  });
});
