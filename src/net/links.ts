// The link fabric: direct socketpairs for plain point-to-point links, runner-forwarded links for the rest.
import { createForwardedLink, type ForwardedLink } from './index.js';
import { TopoError } from '../errors.js';
import type { ResolvedLink, ResolvedTopology } from '../topology/model.js';
import { closeFd, socketPair } from '../host/fds.js';

interface DirectLink {
  kind: 'direct';
  link: ResolvedLink;
  /** Parent copies, one per endpoint, until handed to the QEMU that owns that endpoint. */
  fds: (number | undefined)[];
}

interface Forwarded {
  kind: 'forwarded';
  link: ResolvedLink;
  forwarder: ForwardedLink;
  handedOut: Set<number>;
}

type Entry = DirectLink | Forwarded;

export interface FabricOptions {
  /** Where to write pcaps of links with capture: true. */
  captureFile: (link: ResolvedLink) => string;
  /** Data-plane trouble (a peer broke the framing, a pcap write failed): never fatal, never silent. */
  onError?: (err: TopoError) => void;
  /** Forward every link (`topo up --forward-all`), so any of them can be impaired or captured at run time. */
  forwardAll?: boolean;
  /** The lab's seed: every impairment's random source derives from it and the link. */
  seed?: number;
  /** Links forwarded whatever the file says (a scenario impairs them at run time). */
  forwardLinks?: readonly string[];
}

/** A link is forwarded when a plain socketpair can't do what the file asks: a LAN, impairments, capture, restarts, or `forward`. */
export function needsForwarding(topology: ResolvedTopology, link: ResolvedLink): boolean {
  if (link.kind === 'segment' || link.capture || link.impair || link.forward) return true;
  return link.endpoints.some((ep) => topology.nodes.find((n) => n.name === ep.node)?.restart === 'on-failure');
}

export class LinkFabric {
  private readonly entries = new Map<string, Entry>();

  constructor(topology: ResolvedTopology, opts: FabricOptions) {
    try {
      for (const link of topology.links) {
        if (opts.forwardAll || opts.forwardLinks?.includes(link.id) || needsForwarding(topology, link)) {
          const forwarder = createForwardedLink({
            link,
            lab: topology.name,
            captureFile: link.capture ? opts.captureFile(link) : undefined,
            onError: opts.onError,
            seed: opts.seed,
          });
          forwarder.start();
          this.entries.set(link.id, { kind: 'forwarded', link, forwarder, handedOut: new Set() });
        } else {
          const [a, b] = socketPair();
          this.entries.set(link.id, { kind: 'direct', link, fds: [a, b] });
        }
      }
    } catch (err) {
      void this.close();
      throw err;
    }
  }

  /** The fd a QEMU for `node` gets for its end of `linkId`; the caller closes it after spawn. */
  fdFor(node: string, iface: string, linkId: string): number {
    const entry = this.entries.get(linkId);
    const index = entry?.link.endpoints.findIndex((ep) => ep.node === node && ep.iface === iface) ?? -1;
    if (!entry || index < 0) throw new Error(`fabric: ${node}:${iface} is not on link ${linkId}`);
    if (entry.kind === 'direct') {
      const fd = entry.fds[index];
      if (fd === undefined) {
        throw new TopoError(`link ${linkId} (${node}:${iface}) cannot be reconnected after a restart`, {
          code: 'E_LINK_GONE',
          node,
          link: linkId,
        });
      }
      entry.fds[index] = undefined;
      return fd;
    }
    // A relaunch: the forwarder swaps in a fresh socketpair end and keeps the switch state.
    if (entry.handedOut.has(index)) entry.forwarder.replaceEndpoint(index);
    entry.handedOut.add(index);
    return entry.forwarder.takeGuestFd(index);
  }

  /** The runner's side of a forwarded link; a direct link has none (it can't be impaired or captured at run time). */
  forwarderOf(linkId: string): ForwardedLink | undefined {
    const entry = this.entries.get(linkId);
    return entry?.kind === 'forwarded' ? entry.forwarder : undefined;
  }

  forwarded(): { link: ResolvedLink; forwarder: ForwardedLink }[] {
    return [...this.entries.values()].filter((e): e is Forwarded => e.kind === 'forwarded');
  }

  async close(): Promise<void> {
    for (const entry of this.entries.values()) {
      if (entry.kind === 'direct') entry.fds.forEach((fd) => closeFd(fd));
      else await entry.forwarder.close();
    }
    this.entries.clear();
  }
}
