// Links between runners over TCP on 127.0.0.1: frames both ways, the authenticated hello, reconnection, framing.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createForwardedLink, type ForwardedLink } from '../../src/net/forwarder.js';
import { FrameDecoder } from '../../src/net/framing.js';
import { socketPair } from '../../src/host/socketpair.js';
import type { HelloAuth } from '../../src/net/tcp-hello.js';
import { TcpLinkEnd, type TcpLinkEndOptions } from '../../src/net/tcp-link.js';
import { until } from './helpers.js';
import { FakeVm, makeLink, macOf } from './link-harness.js';

const SECRET = randomBytes(32);
const auth = (over: Partial<HelloAuth> = {}): HelloAuth => ({ lab: 'lab1', link: 'l1', epoch: 1, secret: SECRET, ...over });

const ends: TcpLinkEnd[] = [];
const vms: FakeVm[] = [];
const socks: net.Socket[] = [];
const children: ChildProcess[] = [];
const links: ForwardedLink[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) process.kill(-c.pid!, 'SIGKILL');
  for (const s of socks.splice(0)) s.destroy();
  await Promise.all(ends.splice(0).map((e) => e.close()));
  await Promise.all(vms.splice(0).map((v) => v.close()));
  await Promise.all(links.splice(0).map((l) => l.close()));
});

/** An end whose local side is a fake VM on a socketpair. */
async function endWithVm(opts: Omit<TcpLinkEndOptions, 'local'>, mac: string): Promise<{ end: TcpLinkEnd; vm: FakeVm }> {
  const [mine, theirs] = socketPair();
  const end = new TcpLinkEnd({ backoffMs: 20, maxBackoffMs: 100, ...opts, local: mine });
  ends.push(end);
  const vm = new FakeVm(theirs, mac);
  vms.push(vm);
  await end.start();
  return { end, vm };
}

const listen = (a: HelloAuth | null, mac = macOf(0)) => endWithVm({ role: 'listen', host: '127.0.0.1', port: 0, auth: a }, mac);
const dial = (port: number, a: HelloAuth | null, mac = macOf(1)) => endWithVm({ role: 'dial', host: '127.0.0.1', port, auth: a }, mac);

function rawClient(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.on('error', reject);
    socks.push(s);
  });
}

describe('TcpLinkEnd', () => {
  it('carries frames both ways between two authenticated ends', async () => {
    const a = await listen(auth());
    const b = await dial(a.end.address().port, auth());
    await until(() => a.end.up && b.end.up, 'both ends up');
    a.vm.send(macOf(1), 'a to b');
    b.vm.send(macOf(0), 'b to a');
    await until(() => a.vm.frames.length === 1 && b.vm.frames.length === 1, 'frames both ways');
    expect(b.vm.payloads()).toEqual(['a to b']);
    expect(a.vm.payloads()).toEqual(['b to a']);
    expect(a.end.stats().remote.txFrames).toBe(1);
    expect(a.end.stats().remote.rxFrames).toBe(1);
  });

  it('refuses a peer with the wrong secret, and the dialer keeps retrying', async () => {
    const a = await listen(auth());
    const refused: string[] = [];
    a.end.on('refused', (r) => refused.push(r));
    const b = await dial(a.end.address().port, auth({ secret: randomBytes(32) }));
    await until(() => refused.length >= 2, 'two refusals');
    expect(refused).toContain('proof');
    expect(a.end.up || b.end.up).toBe(false);
    b.vm.send(macOf(0), 'lost');
    await until(() => b.end.stats().disconnectedDrops === 1, 'frame dropped as disconnected');
    expect(a.vm.frames).toEqual([]);
  });

  it('refuses a peer of another link or another epoch', async () => {
    const a = await listen(auth());
    const refused: string[] = [];
    a.end.on('refused', (r) => refused.push(r));
    await dial(a.end.address().port, auth({ link: 'l2' }));
    await dial(a.end.address().port, auth({ epoch: 2 }));
    await until(() => a.end.stats().refused.identity >= 2, 'identity refusals');
    expect(a.end.up).toBe(false);
  });

  it('refuses a replayed hello: a recorded dialer session is useless on a new connection', async () => {
    const a = await listen(auth());
    // A recording proxy between the dialer and the listener, as an attacker on the path would see it.
    const recorded: Buffer[] = [];
    const proxy = net.createServer((inbound) => {
      const out = net.connect({ host: '127.0.0.1', port: a.end.address().port });
      inbound.on('data', (c: Buffer) => {
        recorded.push(Buffer.from(c));
        out.write(c);
      });
      out.on('data', (c: Buffer) => inbound.write(c));
      inbound.on('close', () => out.destroy());
      out.on('close', () => inbound.destroy());
      out.on('error', () => undefined);
      inbound.on('error', () => undefined);
      socks.push(inbound, out);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    const b = await dial((proxy.address() as net.AddressInfo).port, auth());
    await until(() => a.end.up && b.end.up, 'genuine session up');
    await b.end.close();
    proxy.close();
    await until(() => !a.end.up, 'listener sees the session end');
    const replay = await rawClient(a.end.address().port);
    replay.write(Buffer.concat(recorded));
    await until(() => a.end.stats().refused.proof === 1, 'replay refused');
    expect(a.end.up).toBe(false);
  });

  it('a hello-less end takes a plain stream peer; a bad length closes it and a new peer is taken', async () => {
    const a = await listen(null);
    const bad = await rawClient(a.end.address().port);
    await until(() => a.end.up, 'up');
    const closed = new Promise((r) => bad.once('close', r));
    bad.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    await closed;
    await until(() => !a.end.up, 'down after the bad length');
    expect(a.end.stats().refused.malformed).toBe(1);
    expect(a.end.stats().remote.protocolErrors).toBe(1);
    const b = await dial(a.end.address().port, null);
    await until(() => a.end.up && b.end.up, 'new peer up');
    b.vm.send(macOf(0), 'after');
    await until(() => a.vm.frames.length === 1, 'frame after reconnection');
  });

  it('redials with a doubling, capped delay while the peer keeps failing the hello', async () => {
    const delays: number[] = [];
    let b: TcpLinkEnd | undefined;
    // A "peer" that hangs up at once: every attempt fails, and each accept sees the delay that preceded it.
    const rude = net.createServer((s) => {
      if (b !== undefined) delays.push(b.stats().lastRetryMs);
      s.destroy();
    });
    await new Promise<void>((r) => rude.listen(0, '127.0.0.1', () => r()));
    try {
      b = (await dial((rude.address() as net.AddressInfo).port, auth())).end;
      await until(() => delays.length >= 6, 'six attempts', 10_000);
      expect(delays.slice(0, 6)).toEqual([0, 20, 40, 80, 100, 100]);
      expect(b.stats().refused.closed).toBeGreaterThanOrEqual(5);
    } finally {
      rude.close();
    }
  });

  it('drops a connection that never says hello (refused as timeout)', async () => {
    const [mine, theirs] = socketPair();
    const a = new TcpLinkEnd({ local: mine, role: 'listen', host: '127.0.0.1', port: 0, auth: auth(), helloTimeoutMs: 200 });
    ends.push(a);
    vms.push(new FakeVm(theirs, macOf(0)));
    await a.start();
    const silent = await rawClient(a.address().port);
    // Read (and ignore) the end's hello, so its hang-up reaches us.
    silent.resume();
    await new Promise((r) => silent.once('close', r));
    expect(a.stats().refused.timeout).toBe(1);
    expect(a.up).toBe(false);
  });

  it('closes when its local side goes away, so the peer sees the link down', async () => {
    const a = await listen(auth());
    const b = await dial(a.end.address().port, auth());
    await until(() => a.end.up && b.end.up, 'both ends up');
    await a.vm.close();
    await until(() => !b.end.up, 'the peer sees down');
    expect(a.end.up).toBe(false);
  });

  it('a peer that does not read: the end pushes back on its local side, holds a bounded queue, loses nothing', async () => {
    const [mine, theirs] = socketPair();
    const a = new TcpLinkEnd({ local: mine, role: 'listen', host: '127.0.0.1', port: 0, auth: null, maxQueueBytes: 256 << 10 });
    ends.push(a);
    const vm = new FakeVm(theirs, macOf(0));
    vms.push(vm);
    await a.start();
    const stalled = await rawClient(a.address().port);
    stalled.pause();
    await until(() => a.up, 'up');
    for (let i = 0; i < 20_000; i++) vm.send(macOf(1), `f${i}`, 1500);
    // The push-back reached the sender: its writes queue on its own side, not in the end.
    await until(() => vm.sock.writableLength > 1_000_000, 'the sender blocked', 20_000);
    expect(a.stats().queuedBytes).toBeLessThanOrEqual((256 << 10) + 65536 + 1504);
    let got = 0;
    const d = new FrameDecoder(() => got++, () => undefined);
    stalled.on('data', (c: Buffer) => d.push(c));
    stalled.resume();
    await until(() => got === 20_000, 'every frame once the peer reads', 20_000);
    expect(a.stats().remote.queueDrops).toBe(0);
  });

  it('drops and counts frames past the queue bound (one burst larger than the bound)', async () => {
    const [mine, theirs] = socketPair();
    const a = new TcpLinkEnd({ local: mine, role: 'listen', host: '127.0.0.1', port: 0, auth: null, maxQueueBytes: 4096 });
    ends.push(a);
    const vm = new FakeVm(theirs, macOf(0));
    vms.push(vm);
    await a.start();
    const stalled = await rawClient(a.address().port);
    stalled.pause();
    await until(() => a.up, 'up');
    for (let i = 0; i < 3000; i++) vm.send(macOf(1), `f${i}`, 1500);
    await until(() => a.stats().remote.queueDrops > 0, 'drops at the bound', 20_000);
    const s = a.stats();
    expect(s.queuedBytes).toBeLessThanOrEqual(4096 + 65536 + 1504);
    expect(s.remote.txFrames + s.remote.queueDrops).toBe(s.local.rxFrames);
  });

  it('plugs into a forwarded link as an endpoint: its counters and impairments apply unchanged', async () => {
    const fl = createForwardedLink({ lab: 'lab1', link: makeLink(2) });
    links.push(fl);
    const local = new FakeVm(fl.takeGuestFd(0), macOf(0));
    vms.push(local);
    const [mine] = [fl.takeGuestFd(1)];
    const a = new TcpLinkEnd({ local: mine, role: 'listen', host: '127.0.0.1', port: 0, auth: auth() });
    ends.push(a);
    fl.start();
    await a.start();
    const far = await dial(a.address().port, auth());
    await until(() => a.up && far.end.up, 'up');
    fl.setImpairment(1, { delayMs: 0, jitterMs: 0, lossPct: 100, rateBps: 0, duplicatePct: 0, reorderPct: 0, corruptPct: 0 });
    local.send(macOf(1), 'lost to impairment');
    await until(() => fl.stats().endpoints[1]!.drops.loss === 1, 'lost to the impairment');
    fl.setImpairment(1, undefined);
    local.send(macOf(1), 'through');
    far.vm.send(macOf(0), 'back');
    await until(() => far.vm.frames.length === 1 && local.frames.length === 1, 'frames across');
    expect(far.vm.payloads()).toEqual(['through']);
    expect(fl.stats().endpoints[1]!.drops.loss).toBe(1);
    expect(fl.stats().endpoints[1]!.tx.frames).toBe(1);
  });
});

describe('TcpLinkEnd across processes', () => {
  const fixture = fileURLToPath(new URL('../fixtures/tcp-link-end.ts', import.meta.url));

  async function startChild(port: number): Promise<{ child: ChildProcess; port: number }> {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, String(port), SECRET.toString('hex')], {
      detached: true, stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    let out = '';
    const bound = await new Promise<number>((resolve, reject) => {
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /listening (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`link end exited ${code}: ${out}`)));
    });
    return { child, port: bound };
  }

  it('sees the peer runner killed (down, frames counted as disconnected), then up again when it restarts', async () => {
    const first = await startChild(0);
    const b = await dial(first.port, auth());
    const events: string[] = [];
    b.end.on('up', () => events.push('up'));
    b.end.on('down', () => events.push('down'));
    await until(() => b.end.up, 'up', 15_000);
    b.vm.send(macOf(0), 'echo 1');
    await until(() => b.vm.frames.length === 1, 'echo before the kill');
    const gone = new Promise((r) => first.child.once('exit', r));
    process.kill(-first.child.pid!, 'SIGKILL');
    await gone;
    await until(() => !b.end.up, 'down after the kill');
    b.vm.send(macOf(0), 'while down');
    await until(() => b.end.stats().disconnectedDrops === 1, 'counted as disconnected');
    await startChild(first.port);
    await until(() => b.end.up, 'up after the restart', 15_000);
    b.vm.send(macOf(0), 'echo 2');
    await until(() => b.vm.frames.length === 2, 'echo after the restart');
    expect(b.vm.payloads()).toEqual(['echo 1', 'echo 2']);
    expect(events).toEqual(['up', 'down', 'up']);
  });
});
