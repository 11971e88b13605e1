// A forwarded link with fake VMs on the guest ends of its socketpairs, for tests that drive real sockets.

import net from 'node:net';
import { createForwardedLink, type ForwardedLink, type ForwardedLinkOptions } from '../../src/net/forwarder.js';
import { FrameDecoder, encodeFrame } from '../../src/net/framing.js';
import type { Impairment, ResolvedLink } from '../../src/topology/model.js';
import { ethFrame, payloadOf } from './helpers.js';

export const macOf = (i: number): string => `02:00:00:00:00:0${i}`;

export const NONE: Impairment = {
  delayMs: 0, jitterMs: 0, lossPct: 0, rateBps: 0, duplicatePct: 0, reorderPct: 0, corruptPct: 0,
};

export function makeLink(n: number, extra: Partial<ResolvedLink> = {}): ResolvedLink {
  return {
    id: 'l1', index: 0, kind: n === 2 ? 'p2p' : 'segment', mtu: 1500, capture: false,
    endpoints: Array.from({ length: n }, (_, i) => ({ node: `r${i}`, iface: 'eth1', mac: macOf(i) })),
    ...extra,
  };
}

/** Stands in for a QEMU process on the guest end of an endpoint's socketpair. */
export class FakeVm {
  readonly frames: Buffer[] = [];
  readonly sock: net.Socket;
  closed = false;

  constructor(fd: number, readonly mac: string) {
    this.sock = new net.Socket({ fd, readable: true, writable: true });
    const d = new FrameDecoder((f) => this.frames.push(Buffer.from(f)), () => {});
    this.sock.on('data', (c: Buffer) => d.push(c));
    this.sock.on('error', () => {});
    this.sock.on('close', () => (this.closed = true));
  }

  send(dst: string, payload: string, size = 60): Buffer {
    const f = ethFrame(dst, this.mac, payload, size);
    this.sock.write(encodeFrame(f));
    return f;
  }

  payloads(): string[] {
    return this.frames.map(payloadOf);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const done = new Promise((r) => this.sock.once('close', r));
    this.sock.destroy();
    await done;
  }
}

/** Links and VMs started by start(); stop() closes them all (call it in afterEach). */
export class Harness {
  readonly links: ForwardedLink[] = [];
  readonly vms: FakeVm[] = [];

  start(link: ResolvedLink, opts: Omit<ForwardedLinkOptions, 'link' | 'lab'> & { lab?: string } = {}): { fl: ForwardedLink; vms: FakeVm[] } {
    const fl = createForwardedLink({ lab: 'lab', ...opts, link });
    this.links.push(fl);
    const vms = link.endpoints.map((e, i) => new FakeVm(fl.takeGuestFd(i), e.mac));
    this.vms.push(...vms);
    fl.start();
    return { fl, vms };
  }

  async stop(): Promise<void> {
    await Promise.all(this.links.map((l) => l.close()));
    await Promise.all(this.vms.map((v) => v.close()));
    this.links.length = 0;
    this.vms.length = 0;
  }
}
