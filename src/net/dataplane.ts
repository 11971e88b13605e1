// Run-time operations on forwarded links: impairments by endpoint and direction, live capture, counters.
import type { Readable } from 'node:stream';
import { TopoError } from '../errors.js';
import type { ForwardedLink } from './index.js';
import { parseImpairment, type ImpairSpec } from '../topology/impairment.js';
import type { ResolvedLink, ResolvedTopology } from '../topology/model.js';
import { endpointLink } from '../api/lookup.js';
import type { LinkFabric } from './links.js';

import type { ImpairOptions, ImpairmentStatus, LinkCounters } from '../api/dataplane.js';

export class DataPlane {
  constructor(
    private readonly topology: ResolvedTopology,
    private readonly fabric: LinkFabric,
    /** Spread lab: only the directions this runner applies (the peer's runner applies the others). */
    private readonly owns: (link: string, index: number) => boolean = () => true,
  ) {}

  /** Set (or with `undefined` clear) the impairment on `endpoint`'s link, in the given direction(s). */
  impair(endpoint: string, spec: ImpairSpec | undefined, opts: ImpairOptions = {}): ImpairmentStatus[] {
    const imp = spec === undefined ? undefined : parseImpairment(spec);
    const { link, fwd, self } = this.resolve(endpoint);
    const direction = opts.direction ?? 'both';
    if (direction !== 'both' && self === undefined) {
      throw new TopoError(`--direction ${direction} needs an endpoint (NODE:IFACE), not the link id ${link.id}`, { code: 'E_USAGE' });
    }
    const targets = link.endpoints
      .map((_, i) => i)
      .filter((i) => direction === 'both' || (direction === 'in' ? i === self : i !== self))
      .filter((i) => this.owns(link.id, i));
    for (const i of targets) fwd.setImpairment(i, imp);
    return this.show().filter((s) => s.link === link.id);
  }

  /** Every forwarded link's impairment per receiving endpoint. */
  show(): ImpairmentStatus[] {
    return this.fabric.forwarded().flatMap(({ link, forwarder }) =>
      link.endpoints.flatMap((ep, i) => {
        if (!this.owns(link.id, i)) return [];
        const impair = forwarder.getImpairment(i);
        return [{ link: link.id, to: `${ep.node}:${ep.iface}`, ...(impair ? { impair } : {}) }];
      }),
    );
  }

  /** A live capture of the link from now on (pcap, or pcapng with one interface per endpoint). */
  capture(endpoint: string, format?: 'pcap' | 'pcapng'): Readable {
    const { link, fwd } = this.resolve(endpoint);
    return fwd.capture({ format: format ?? (link.kind === 'segment' ? 'pcapng' : 'pcap') });
  }

  counters(linkId: string): LinkCounters[] | undefined {
    const fwd = this.fabric.forwarderOf(linkId);
    if (!fwd) return undefined;
    return fwd.stats().endpoints.map((ep) => ({
      endpoint: `${ep.node}:${ep.iface}`,
      rx: { ...ep.rx },
      tx: { ...ep.tx },
      drops: { ...ep.drops },
    }));
  }

  private resolve(endpoint: string): { link: ResolvedLink; fwd: ForwardedLink; self?: number } {
    const link = endpointLink(this.topology, endpoint);
    const fwd = this.fabric.forwarderOf(link.id);
    if (!fwd) {
      throw new TopoError(`link ${link.id} (${link.endpoints.map((e) => `${e.node}:${e.iface}`).join(' ')}) is a direct socketpair: it cannot be impaired or captured while the lab runs`, {
        code: 'E_DIRECT_LINK',
        link: link.id,
        hint: 'make it forwarded: `forward: true` on the link, `topo up --forward-all`, or an impair/capture in the file',
      });
    }
    const self = link.endpoints.findIndex((e) => `${e.node}:${e.iface}` === endpoint);
    return { link, fwd, ...(self >= 0 ? { self } : {}) };
  }
}
