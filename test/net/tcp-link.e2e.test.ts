// Interop: a plain QEMU on `-netdev stream` (no hello) dials a topo link end; frames cross an authenticated TCP
// link between two ends and a forwarded link to a second guest, which answers pings.
// guest A --stream--> [hello-less end] <-socketpair-> [dial end] ==TCP+hello==> [listen end] <-> forwarded link <-> guest B

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureGuest, readyLine, renderGuestConfig } from '../../src/guest/index.js';
import { createForwardedLink, type ForwardedLink } from '../../src/net/forwarder.js';
import { socketPair } from '../../src/host/socketpair.js';
import { TcpLinkEnd } from '../../src/net/tcp-link.js';
import { bootGuest, socketpair, type BootedGuest } from '../helpers/boot-guest.js';
import { iface, node } from '../helpers/model.js';
import { makeLink } from './link-harness.js';

const macA = '02:00:00:0c:00:01';
const macB = '02:00:00:0c:00:02';
const auth = { lab: 'interop', link: 'l1', epoch: 1, secret: randomBytes(32) };
const ends: TcpLinkEnd[] = [];
const guests: BootedGuest[] = [];
let fl: ForwardedLink;

/** Replaces the one link NIC's inherited socket by a QEMU stream client towards 127.0.0.1:port. */
const streamTo = (port: number) => (argv: readonly string[]): string[] => {
  const out = argv.map((a, i) => argv[i - 1] !== '-netdev' ? a : a.replace(/^socket,id=([^,]+),fd=\d+$/, `stream,id=$1,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port=${port}`));
  if (!out.some((a) => a.startsWith('stream,'))) throw new Error(`no link netdev in ${argv.join(' ')}`);
  return out;
};

beforeAll(async () => {
  const guest = await ensureGuest();
  // The "topo side": guest B on a forwarded link whose other endpoint is an authenticated TCP end.
  fl = createForwardedLink({ lab: 'interop', link: makeLink(2) });
  const listen = new TcpLinkEnd({ local: fl.takeGuestFd(1), role: 'listen', host: '127.0.0.1', port: 0, auth });
  ends.push(listen);
  fl.start();
  await listen.start();
  // The far runner: a hello-less end that plain QEMU dials, relayed to an end that dials the listener.
  const [toPlain, toDial] = socketPair();
  const plain = new TcpLinkEnd({ local: toPlain, role: 'listen', host: '127.0.0.1', port: 0, auth: null });
  const dial = new TcpLinkEnd({ local: toDial, role: 'dial', host: '127.0.0.1', port: listen.address().port, auth });
  ends.push(plain, dial);
  await plain.start();
  await dial.start();

  const a = node('a', { interfaces: [iface('eth0', { mac: macA, addresses: ['10.0.99.1/24'] })] });
  const b = node('b', { interfaces: [iface('eth0', { mac: macB, addresses: ['10.0.99.2/24'] })] });
  const [dangling, unused] = socketpair();
  const { closeSync } = await import('node:fs');
  closeSync(dangling);
  guests.push(await bootGuest(guest, {
    config: renderGuestConfig(a, { nonce: 'a' }), links: [{ fd: unused, mac: macA }], mapArgv: streamTo(plain.address().port),
  }));
  guests.push(await bootGuest(guest, { config: renderGuestConfig(b, { nonce: 'b' }), links: [{ fd: fl.takeGuestFd(0), mac: macB }] }));
  await Promise.all(guests.map((g, i) => g.waitForConsole(readyLine(i === 0 ? 'a' : 'b'), 180_000)));
}, 400_000);

afterAll(async () => {
  await Promise.all(guests.map((g) => g.stop()));
  await Promise.all(ends.map((e) => e.close()));
  await fl?.close();
});

describe('a plain QEMU (-netdev stream) as one end of a TCP link', () => {
  it('pings across the hello-less end, the authenticated TCP link and the forwarded link', async () => {
    const [a] = guests;
    expect(a!.argv.join(' ')).toContain('-netdev stream,id=');
    let r = await a!.agent.exec('ping -c 1 -W 2 10.0.99.2', { timeoutMs: 30_000 });
    // ARP and the first echo may race the relays settling: a second try is still a real ping.
    for (let i = 0; i < 5 && r.exitCode !== 0; i++) r = await a!.agent.exec('ping -c 1 -W 2 10.0.99.2', { timeoutMs: 30_000 });
    expect(r.exitCode).toBe(0);
    const [plain, , listen] = [ends[1]!, ends[2]!, ends[0]!];
    expect(plain.stats().up && listen.stats().up).toBe(true);
    expect(plain.stats().remote.rxFrames).toBeGreaterThan(0);
    expect(fl.stats().endpoints[0]!.tx.frames).toBeGreaterThan(0);
  });
});
