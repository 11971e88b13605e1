// A runner-forwarded link: one socketpair per endpoint; frames go decoder -> captures -> switch -> impair -> egress.

import { closeSync } from 'node:fs';
import net from 'node:net';
import { TopoError } from '../errors.js';
import type { Impairment } from '../topology/model.js';
import { CaptureStream, type CaptureOptions } from './capture.js';
import { realClock, type Clock } from './clock.js';
import { exceedsMtu, maxFrameLenFor } from './framing.js';
import { hasImpairment, Impairer, impairmentProblem } from './impair.js';
import { endpointStats, type Endpoint } from './endpoint.js';
import type { ForwardedLink, ForwardedLinkOptions, LinkStats } from './link-types.js';
import { PcapWriter, wallClockMs } from './pcap.js';
import { addCounters, FramePort, zeroCounters } from './port.js';
import { impairSeed, seedProblem } from './rng.js';
import { socketPair } from '../host/socketpair.js';
import { LearningSwitch } from './switch.js';

export type {
  DropCounters, EndpointStats, ForwardedLink, ForwardedLinkOptions, LinkStats, TrafficCounters,
} from './link-types.js';

class Link implements ForwardedLink {
  readonly id: string;
  readonly guestFds = new Map<number, number>();
  private readonly eps: Endpoint[] = [];
  /** null = two endpoints: behave like a cable, exactly as a direct socketpair would. */
  private readonly sw: LearningSwitch | null;
  private readonly pcap: PcapWriter | null;
  private readonly captures = new Set<CaptureStream>();
  private readonly clock: Clock;
  private readonly closing: Promise<void>[] = [];
  private started = false;
  private closed = false;

  constructor(private readonly opts: ForwardedLinkOptions) {
    const { link } = opts;
    this.id = link.id;
    if (link.endpoints.length < 2) {
      throw new TopoError(`link ${link.id} has fewer than 2 endpoints`, { code: 'NET_LINK', link: link.id });
    }
    const problem = opts.seed === undefined ? null : seedProblem(opts.seed);
    if (problem !== null) throw new TopoError(`link ${link.id}: ${problem}`, { code: 'NET_SEED', link: link.id });
    const clock = (this.clock = opts.clock ?? realClock);
    this.sw = link.endpoints.length > 2
      ? new LearningSwitch({ ports: link.endpoints.length, agingMs: opts.macAgingMs, now: () => clock.now() })
      : null;
    try {
      link.endpoints.forEach((e, index) => {
        const [hostFd, guestFd] = socketPair();
        const ep: Endpoint = {
          index, node: e.node, iface: e.iface, hostFd, guestFd, port: null, up: true, downDrops: 0, oversizeDrops: 0,
          disconnectedDrops: 0, impairer: null, ingressPaused: false, retired: zeroCounters(),
        };
        this.eps.push(ep);
        this.guestFds.set(index, guestFd);
        if (hasImpairment(link.impair)) this.impair(ep, link.impair);
      });
      this.pcap = opts.captureFile === undefined ? null : new PcapWriter(opts.captureFile, {
        onError: (err) => opts.onError?.(new TopoError(`capture of link ${link.id} failed: ${err.message}`, {
          code: 'NET_CAPTURE', link: link.id, file: opts.captureFile, cause: err,
        })),
      });
    } catch (err) {
      this.releaseRawFds();
      throw err;
    }
  }

  closeGuestFd(i: number): void {
    const ep = this.eps[i];
    if (ep?.guestFd == null) return;
    closeSync(ep.guestFd);
    ep.guestFd = null;
    this.guestFds.delete(i);
  }

  takeGuestFd(i: number): number {
    const ep = this.endpoint(i);
    if (ep.guestFd === null) {
      throw new TopoError(`link ${this.id}: guest fd ${i} already closed or taken`, { code: 'NET_LINK', link: this.id });
    }
    const fd = ep.guestFd;
    ep.guestFd = null;
    this.guestFds.delete(i);
    return fd;
  }

  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    for (const ep of this.eps) this.attach(ep);
  }

  setEndpointUp(i: number, up: boolean): void {
    const ep = this.endpoint(i);
    ep.up = up;
    if (up) return;
    // A switch forgets stations behind a port whose link went down.
    this.sw?.flushPort(i);
    // An unplugged cable loses the sender's frames rather than holding them back.
    if (this.sw === null) this.resumePeer(ep);
  }

  setImpairment(i: number, imp: Impairment | undefined): void {
    const ep = this.endpoint(i);
    this.assertOpen();
    const problem = imp === undefined ? null : impairmentProblem(imp);
    if (problem !== null) {
      throw new TopoError(`link ${this.id} towards ${ep.node}:${ep.iface}: ${problem}`, {
        code: 'NET_IMPAIR', link: this.id, node: ep.node,
      });
    }
    if (hasImpairment(imp)) this.impair(ep, imp);
    else ep.impairer?.setImpairment(undefined);
  }

  getImpairment(i: number): Impairment | undefined {
    const imp = this.endpoint(i).impairer?.impairment;
    return hasImpairment(imp) ? imp : undefined;
  }

  capture(opts: CaptureOptions = {}): CaptureStream {
    this.assertOpen();
    const names = this.eps.map((ep) => `${ep.node}:${ep.iface}`);
    const c: CaptureStream = new CaptureStream(names, opts, () => this.captures.delete(c));
    this.captures.add(c);
    return c;
  }

  replaceEndpoint(i: number): number {
    this.assertOpen();
    const ep = this.endpoint(i);
    const [hostFd, guestFd] = socketPair();
    this.retire(ep);
    this.closeGuestFd(i);
    ep.hostFd = hostFd;
    ep.guestFd = guestFd;
    this.guestFds.set(i, guestFd);
    if (this.started) this.attach(ep);
    return guestFd;
  }

  stats(): LinkStats {
    return {
      id: this.id,
      mode: this.sw === null ? 'wire' : 'switch',
      endpoints: this.eps.map((ep) => endpointStats(ep, this.getImpairment(ep.index))),
      ...(this.sw === null ? {} : { switch: { ...this.sw.counters, macs: this.sw.macCount } }),
      ...(this.pcap === null ? {} : { capture: this.pcap.stats() }),
      captures: [...this.captures].map((c) => c.stats()),
    };
  }

  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      for (const ep of this.eps) {
        ep.impairer?.close();
        this.retire(ep);
        this.closeGuestFd(ep.index);
      }
      if (this.pcap !== null) this.closing.push(this.pcap.close());
      for (const c of this.captures) c.close();
    }
    await Promise.all(this.closing);
  }

  private assertOpen(): void {
    if (this.closed) throw new TopoError(`link ${this.id} is closed`, { code: 'NET_LINK', link: this.id });
  }

  private impair(ep: Endpoint, imp: Impairment): void {
    const settings = Object.freeze({ ...imp });
    if (ep.impairer !== null) return ep.impairer.setImpairment(settings);
    ep.impairer = new Impairer({
      impairment: settings,
      seed: impairSeed(this.opts.lab, this.id, `to ${ep.node}:${ep.iface}`, this.opts.seed),
      clock: this.clock,
      deliver: (f) => this.transmit(ep, f),
    });
  }

  private endpoint(i: number): Endpoint {
    const ep = this.eps[i];
    if (ep === undefined) {
      throw new TopoError(`link ${this.id} has no endpoint ${i}`, { code: 'NET_LINK', link: this.id });
    }
    return ep;
  }

  private attach(ep: Endpoint): void {
    if (ep.hostFd === null) return;
    const sock = new net.Socket({ fd: ep.hostFd, readable: true, writable: true });
    ep.hostFd = null;
    ep.ingressPaused = false;
    const port = new FramePort(sock, {
      maxQueueBytes: this.opts.maxQueueBytes,
      maxFrameLen: maxFrameLenFor(this.opts.link.mtu),
      counters: this.opts.counters,
    });
    port.on('frame', (f) => this.ingress(ep, f));
    if (this.sw === null) {
      port.on('drain', () => this.resumePeer(ep));
      port.on('close', () => this.resumePeer(ep));
      // A fresh port must not stay behind a pause its predecessor caused.
      this.resumePeer(ep);
    }
    port.on('protocolError', (err) => this.opts.onError?.(new TopoError(
      `link ${this.id}: ${ep.node}:${ep.iface} broke the frame protocol (${err.message}); port closed`,
      { code: 'NET_PROTOCOL', link: this.id, node: ep.node, cause: err },
    )));
    ep.port = port;
  }

  /** Close the runner side of an endpoint, keeping its counters. */
  private retire(ep: Endpoint): void {
    if (ep.port !== null) {
      ep.retired = addCounters(ep.retired, ep.port.counters);
      this.closing.push(ep.port.closeAndWait());
      ep.port = null;
    }
    if (ep.hostFd !== null) {
      closeSync(ep.hostFd);
      ep.hostFd = null;
    }
  }

  private releaseRawFds(): void {
    for (const ep of this.eps) {
      if (ep.hostFd !== null) closeSync(ep.hostFd);
      if (ep.guestFd !== null) closeSync(ep.guestFd);
      ep.hostFd = ep.guestFd = null;
    }
  }

  private ingress(ep: Endpoint, frame: Buffer): void {
    if (!ep.up) {
      ep.downDrops++;
      return;
    }
    // The link's MTU is a property of the link: a guest that raised its own MTU past it is not heard.
    if (exceedsMtu(frame, this.opts.link.mtu)) {
      ep.oversizeDrops++;
      return;
    }
    this.pcap?.write(frame);
    if (this.captures.size > 0) {
      const t = wallClockMs();
      for (const c of this.captures) c.record(ep.index, frame, t);
    }
    if (this.sw === null) {
      const peer = this.eps[1 - ep.index]!;
      this.egress(peer, frame);
      // A cable has no queue to overflow: push back on the sender like a direct socketpair would.
      if (peer.port?.congested === true && !ep.ingressPaused) {
        ep.ingressPaused = true;
        ep.port?.pause();
      }
      return;
    }
    for (const e of this.sw.forward(ep.index, frame)) this.egress(this.eps[e]!, frame);
  }

  private resumePeer(ep: Endpoint): void {
    const peer = this.eps[1 - ep.index];
    if (peer?.ingressPaused !== true) return;
    peer.ingressPaused = false;
    peer.port?.resume();
  }

  private egress(ep: Endpoint, frame: Buffer): void {
    if (ep.impairer !== null) ep.impairer.push(frame);
    else this.transmit(ep, frame);
  }

  /** Last hop; link state is checked here so frames already in a delay line also die on link down. */
  private transmit(ep: Endpoint, frame: Buffer): void {
    if (!ep.up) {
      ep.downDrops++;
      return;
    }
    if (ep.port !== null) ep.port.send(frame);
    else ep.disconnectedDrops++;
  }
}

export function createForwardedLink(opts: ForwardedLinkOptions): ForwardedLink {
  return new Link(opts);
}
