// What one runner (`topo node FILE NODE`) sees of a topology: its node, the links touching it, and which
// impairment directions it applies. Pure; the same role rule as `tcpConnections` (src/k8s/plan.ts).
import { TopoError } from '../errors.js';
import { tcpRoleFor } from '../net/tcp-hello.js';
import type { LinkEndpoint, ResolvedLink, ResolvedTopology } from '../topology/model.js';

export interface NodeView {
  readonly node: string;
  /** nodes: only this one; links: only those touching it (a segment it does not host: its ends plus the host's). */
  readonly topology: ResolvedTopology;
  /** Links with an end in another runner: always forwarded, their remote ends carried over TCP. */
  readonly crossLinks: readonly string[];
  /** Whether this runner applies the impairment of frames travelling towards endpoint `index` of `link`. */
  owns(link: string, index: number): boolean;
}

/** A link's ends in dialling order: the first one hosts the link (a point-to-point link's dialer, a segment's switch). */
export function sortedEnds<E extends { node: string; iface: string }>(ends: readonly E[]): E[] {
  return [...ends].sort((a, b) => (tcpRoleFor(a, b) === 'dial' ? -1 : 1));
}

export function linkHost(link: ResolvedLink): LinkEndpoint {
  return sortedEnds(link.endpoints)[0]!;
}

export function nodeView(t: ResolvedTopology, node: string): NodeView {
  const self = t.nodes.find((n) => n.name === node);
  if (!self) {
    throw new TopoError(`no node "${node}" in ${t.name} (nodes: ${t.nodes.map((n) => n.name).join(', ')})`, {
      code: 'E_NO_NODE', node, file: t.file,
    });
  }
  const owned = new Map<string, Set<number>>();
  const links: ResolvedLink[] = [];
  const crossLinks: string[] = [];
  for (const l of t.links) {
    const mine = l.endpoints.filter((e) => e.node === node);
    if (mine.length === 0) continue;
    const local = mine.length === l.endpoints.length;
    if (!local) crossLinks.push(l.id);
    const host = linkHost(l);
    if (l.kind === 'segment' && host.node !== node) {
      // A member reaches the segment through one connection to its host: its end and the host's, a cable.
      if (mine.length > 1) {
        throw new TopoError(`node ${node} has ${mine.length} interfaces on segment ${l.id}, hosted by ${host.node}: ` +
          'one runner can join a segment it does not host with one interface only', {
          code: 'E_SPREAD_UNSUPPORTED', node, link: l.id, file: t.file,
          hint: `give the segment's interfaces of ${node} to separate segments, or run the lab on one host`,
        });
      }
      links.push({ ...l, endpoints: [mine[0]!, host] });
      // Every direction of a segment is the host's to impair.
      owned.set(l.id, new Set());
      continue;
    }
    links.push(l);
    const indices = l.endpoints.map((_, i) => i);
    // p2p: the sender's runner impairs its egress, i.e. frames towards the other node; a segment's host impairs all.
    owned.set(l.id, new Set(l.kind === 'segment' || local ? indices : indices.filter((i) => l.endpoints[i]!.node !== node)));
  }
  return {
    node,
    topology: { ...t, nodes: [self], links },
    crossLinks,
    owns: (link, index) => owned.get(link)?.has(index) ?? false,
  };
}
