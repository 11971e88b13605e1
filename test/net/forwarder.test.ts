import { readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TopoError } from '../../src/errors.js';
import { createForwardedLink, type ForwardedLink } from '../../src/net/forwarder.js';
import type { Impairment, ResolvedLink } from '../../src/topology/model.js';
import { BROADCAST, FakeClock, readPcap, until } from './helpers.js';
import { FakeVm, makeLink } from './link-harness.js';

const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('createForwardedLink', () => {
  let dir: string;
  let fl: ForwardedLink | undefined;
  let vms: FakeVm[] = [];

  function boot(link: ResolvedLink, opts: { captureFile?: string; clock?: FakeClock; onError?: (e: TopoError) => void } = {}): FakeVm[] {
    fl = createForwardedLink({ link, lab: 'lab', ...opts });
    vms = link.endpoints.map((e, i) => new FakeVm(fl!.takeGuestFd(i), e.mac));
    fl.start();
    return vms;
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'topo-fwd-'));
  });
  afterEach(async () => {
    await fl?.close();
    await Promise.all(vms.map((v) => v.close()));
    fl = undefined;
    vms = [];
    await rm(dir, { recursive: true, force: true });
  });

  it('switches a 3-endpoint segment: floods broadcast, then unicasts only to the learned port', async () => {
    const capture = join(dir, 'l1.pcap');
    const [a, b, c] = boot(makeLink(3, { capture: true }), { captureFile: capture });
    const sent: Buffer[] = [];
    sent.push(a!.send(BROADCAST, 'hello from a'));
    await until(() => b!.frames.length === 1 && c!.frames.length === 1, 'broadcast delivery');
    expect(b!.payloads()).toEqual(['hello from a']);
    expect(c!.payloads()).toEqual(['hello from a']);
    expect(a!.frames).toEqual([]);

    sent.push(b!.send(a!.mac, 'b to a'));
    await until(() => a!.frames.length === 1, 'unicast to a');
    expect(c!.frames).toHaveLength(1);

    // a is now learned too: this unicast must reach b only. A later broadcast from a to c proves
    // c's FIFO has drained past the point where the unicast would have been.
    sent.push(a!.send(b!.mac, 'a to b'));
    sent.push(a!.send(BROADCAST, 'marker'));
    await until(() => c!.frames.length === 2 && b!.frames.length === 3, 'unicast + marker');
    expect(b!.payloads()).toEqual(['hello from a', 'a to b', 'marker']);
    expect(c!.payloads()).toEqual(['hello from a', 'marker']);

    const s = fl!.stats();
    expect(s.mode).toBe('switch');
    expect(s.switch).toMatchObject({ macs: 2, flooded: 2, forwarded: 2 });
    expect(s.endpoints.map((e) => [e.rxFrames, e.txFrames])).toEqual([[3, 1], [1, 3], [0, 2]]);

    await fl!.close();
    const p = readPcap(await readFile(capture));
    // Each frame entering the link exactly once, however many ports it was flooded to.
    expect(p.records.map((r) => r.data)).toEqual(sent);
  });

  it('drops frames to and from an endpoint that is down, and recovers when it is up', async () => {
    const [a, b, c] = boot(makeLink(3));
    fl!.setEndpointUp(2, false);
    c!.send(BROADCAST, 'from down c');
    await until(() => fl!.stats().endpoints[2]!.downDrops === 1, 'ingress drop');
    a!.send(BROADCAST, 'to all');
    await until(() => b!.frames.length === 1 && fl!.stats().endpoints[2]!.downDrops === 2, 'egress drop');
    expect(fl!.stats().endpoints[2]!.up).toBe(false);

    fl!.setEndpointUp(2, true);
    c!.send(BROADCAST, 'c is back');
    await until(() => a!.frames.length === 1 && b!.frames.length === 2);
    a!.send(BROADCAST, 'marker');
    await until(() => c!.frames.length === 1);
    expect(c!.payloads()).toEqual(['marker']);
    expect(a!.payloads()).toEqual(['c is back']);
  });

  it('acts as a plain wire for two endpoints, both directions', async () => {
    const [a, b] = boot(makeLink(2));
    // Even a destination a cable would not "know" goes across, as on a direct socketpair.
    a!.send('02:99:00:00:00:01', 'x');
    b!.send(a!.mac, 'y');
    await until(() => a!.frames.length === 1 && b!.frames.length === 1);
    expect(fl!.stats().mode).toBe('wire');
  });

  it('pushes back on the sender instead of dropping when a wire\'s receiver stalls', async () => {
    const [a, b] = boot(makeLink(2));
    b!.sock.pause();
    // 7.5 MB: far more than the kernel buffers plus the 1 MiB drop bound.
    for (let i = 0; i < 5000; i++) a!.send(b!.mac, `n${i}`, 1500);
    await until(() => fl!.stats().endpoints[0]!.ingressPaused, 'ingress paused');
    expect(fl!.stats().endpoints[1]!.txDrops).toBe(0);
    b!.sock.resume();
    await until(() => b!.frames.length === 5000, 'all frames after resume');
    expect(b!.payloads()).toEqual(Array.from({ length: 5000 }, (_, i) => `n${i}`));
    expect(fl!.stats().endpoints[1]!.txDrops).toBe(0);
    expect(fl!.stats().endpoints[0]!.ingressPaused).toBe(false);
  });

  it('drops rather than blocking the segment when one switch port stalls', async () => {
    const [a, b, c] = boot(makeLink(3));
    c!.sock.pause();
    for (let i = 0; i < 5000; i++) a!.send(BROADCAST, `n${i}`, 1500);
    await until(() => b!.frames.length === 5000, 'healthy port gets everything');
    await until(() => fl!.stats().endpoints[2]!.txDrops > 0, 'stalled port drops');
    c!.sock.resume();
    const s = fl!.stats().endpoints[2]!;
    await until(() => c!.frames.length === s.txFrames, 'stalled port drains what was queued');
    expect(s.txFrames + s.txDrops).toBe(5000);
  });

  it('applies impairment on the fake clock per direction', async () => {
    const clock = new FakeClock();
    const impair: Impairment = { delayMs: 10, jitterMs: 0, lossPct: 0, rateBps: 0, duplicatePct: 0, reorderPct: 0, corruptPct: 0 };
    const [a, b] = boot(makeLink(2, { impair }), { clock });
    a!.send(b!.mac, 'delayed');
    b!.send(a!.mac, 'delayed back');
    await until(() => fl!.stats().endpoints.every((e) => e.impair?.queuedFrames === 1), 'frames queued');
    expect(a!.frames.length + b!.frames.length).toBe(0);
    clock.advance(10);
    await until(() => a!.frames.length === 1 && b!.frames.length === 1, 'release after 10 ms');
  });

  it('replaces an endpoint with a fresh socketpair, keeping the MAC table', async () => {
    const [a, b, c] = boot(makeLink(3));
    b!.send(BROADCAST, 'b here');
    await until(() => a!.frames.length === 1 && c!.frames.length === 1);
    const fd = fl!.replaceEndpoint(1);
    expect(fl!.guestFds.get(1)).toBe(fd);
    await until(() => b!.closed, 'old guest end sees EOF');
    const b2 = new FakeVm(fl!.takeGuestFd(1), b!.mac);
    vms.push(b2);
    a!.send(b2.mac, 'to restarted b');
    await until(() => b2.frames.length === 1);
    expect(fl!.stats().switch).toMatchObject({ forwarded: 1, flooded: 1 });
    expect(fl!.stats().endpoints[1]).toMatchObject({ rxFrames: 1, txFrames: 1, connected: true });
  });

  it('closes only the offending port on a protocol error', async () => {
    const errors: TopoError[] = [];
    const [a, b, c] = boot(makeLink(3), { onError: (e) => errors.push(e) });
    const bad = Buffer.alloc(4);
    bad.writeUInt32BE(1 << 30);
    c!.sock.write(bad);
    await until(() => c!.closed, 'offender disconnected');
    expect(errors.map((e) => [e.code, e.node])).toEqual([['NET_PROTOCOL', 'r2']]);
    a!.send(BROADCAST, 'still alive');
    await until(() => b!.frames.length === 1);
    expect(fl!.stats().endpoints[2]).toMatchObject({ connected: false, protocolErrors: 1 });
  });

  it('releases every fd on close, started or not', async () => {
    const baseline = openFds();
    const idle = createForwardedLink({ link: makeLink(4), lab: 'lab' });
    expect(openFds()).toBe(baseline + 8);
    idle.closeGuestFd(0);
    idle.closeGuestFd(0);
    await idle.close();
    expect(openFds()).toBe(baseline);

    boot(makeLink(3, { impair: { delayMs: 5, jitterMs: 1, lossPct: 0, rateBps: 1e6, duplicatePct: 0, reorderPct: 0, corruptPct: 0 } }), { captureFile: join(dir, 'x.pcap') });
    fl!.replaceEndpoint(0);
    fl!.closeGuestFd(0);
    vms[1]!.send(BROADCAST, 'traffic');
    await until(() => fl!.stats().endpoints[1]!.rxFrames === 1);
    await fl!.close();
    await Promise.all(vms.map((v) => v.close()));
    expect(openFds()).toBe(baseline);
  });
});
