// A runner's link ends in other runners: the forwarded link's endpoint of the peer is carried over TCP, so the
// switch, impairments, capture and counters work unchanged; the guest sees carrier off while the peer is away.
import { EventEmitter } from 'node:events';
import type { LinkFabric } from '../net/links.js';
import { TcpLinkEnd, type TcpLinkStats } from '../net/tcp-link.js';
import type { TcpRole } from '../net/tcp-hello.js';
import { TopoError } from '../errors.js';
import type { ResolvedTopology } from '../topology/model.js';

export interface RemoteEndSpec {
  link: string;
  /** The endpoint at the other runner (its node and interface). */
  peer: { node: string; iface: string };
  role: TcpRole;
  /** dial: the peer runner's host; listen: the address to bind. */
  host: string;
  port: number;
  /** Hello-less: a plain QEMU `-netdev stream` may be the peer (no secret, no identity). */
  plain?: boolean;
}

export interface RemoteOptions {
  ends: readonly RemoteEndSpec[];
  /** The per-lab link secret; every end without `plain` proves it. */
  secret: Buffer;
  epoch: number;
  /** Whether this runner impairs frames towards endpoint `index` of `link` (src/runtime/node-view.ts). */
  owns(link: string, index: number): boolean;
  /** Reconnect backoff of dialling ends (tests shorten it). */
  backoffMs?: number;
  maxBackoffMs?: number;
}

export interface RemoteEndStatus {
  link: string;
  peer: string;
  role: TcpRole;
  address: string;
  stats: TcpLinkStats;
}

/** The TCP ends of one runner. 'change' fires with a link id whenever its peer connects or goes away. */
export class RemoteEnds extends EventEmitter<{ change: [link: string, connected: boolean, peer: string] }> {
  private readonly ends: { spec: RemoteEndSpec; end: TcpLinkEnd }[] = [];

  /** Takes the peer endpoints' fds from the fabric; call start() to listen and dial. */
  constructor(topology: ResolvedTopology, fabric: LinkFabric, private readonly opts: RemoteOptions) {
    super();
    try {
      for (const spec of opts.ends) this.ends.push({ spec, end: this.endFor(topology, fabric, spec) });
      // Static impairments of the file: each direction is applied by one runner only.
      for (const { link, forwarder } of fabric.forwarded()) {
        link.endpoints.forEach((_, i) => {
          if (!opts.owns(link.id, i) && forwarder.getImpairment(i)) forwarder.setImpairment(i, undefined);
        });
      }
    } catch (err) {
      void this.close();
      throw err;
    }
  }

  private endFor(topology: ResolvedTopology, fabric: LinkFabric, spec: RemoteEndSpec): TcpLinkEnd {
    const link = topology.links.find((l) => l.id === spec.link);
    const index = link?.endpoints.findIndex((e) => e.node === spec.peer.node && e.iface === spec.peer.iface) ?? -1;
    const forwarder = fabric.forwarderOf(spec.link);
    const name = `${spec.link}@${spec.peer.node}:${spec.peer.iface}`;
    if (!link || index < 0 || !forwarder) {
      throw new TopoError(`--link ${name}: ${link ? `${spec.peer.node}:${spec.peer.iface} is not an end of ${spec.link} seen from this node` : `no link ${spec.link} touches this node`}`, {
        code: 'E_USAGE', link: spec.link, hint: 'the --link arguments come from `topo k8s render` of the same file',
      });
    }
    const end = new TcpLinkEnd({
      local: forwarder.takeGuestFd(index),
      role: spec.role,
      host: spec.host,
      port: spec.port,
      auth: spec.plain ? null : { secret: this.opts.secret, lab: topology.name, link: spec.link, epoch: this.opts.epoch },
      backoffMs: this.opts.backoffMs,
      maxBackoffMs: this.opts.maxBackoffMs,
      name,
    });
    const peer = `${spec.peer.node}:${spec.peer.iface}`;
    end.on('up', () => this.emit('change', spec.link, true, peer));
    end.on('down', () => this.emit('change', spec.link, false, peer));
    end.on('refused', () => undefined);
    return end;
  }

  async start(): Promise<void> {
    await Promise.all(this.ends.map(({ end }) => end.start()));
  }

  /** A link with ends here is connected when every one of its TCP ends has its peer. */
  connected(link: string): boolean {
    return this.ends.every(({ spec, end }) => spec.link !== link || end.up);
  }

  get allConnected(): boolean {
    return this.ends.every(({ end }) => end.up);
  }

  /** Links waiting for a peer, as `LINK@NODE:IFACE`. */
  waiting(): string[] {
    return this.ends.filter(({ end }) => !end.up).map(({ spec }) => `${spec.link}@${spec.peer.node}:${spec.peer.iface}`);
  }

  status(): RemoteEndStatus[] {
    return this.ends.map(({ spec, end }) => ({
      link: spec.link,
      peer: `${spec.peer.node}:${spec.peer.iface}`,
      role: spec.role,
      address: spec.role === 'listen' ? `${spec.host}:${safePort(end) ?? spec.port}` : `${spec.host}:${spec.port}`,
      stats: end.stats(),
    }));
  }

  async close(): Promise<void> {
    await Promise.all(this.ends.map(({ end }) => end.close()));
  }
}

function safePort(end: TcpLinkEnd): number | undefined {
  try {
    return end.address().port;
  } catch {
    return undefined;
  }
}
