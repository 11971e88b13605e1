// Names a lab knows, and the one not-found error each kind of name gets: the local lab, the remote one and the
// control server all answer an unknown node, link or endpoint with the same line.
import { TopoError } from '../errors.js';

/** The names of a lab as both sides know them: from its topology (local) or its status (remote). */
export interface LabNames {
  readonly name: string;
  readonly nodes: readonly string[];
  /** Each link's id and endpoints (`node:iface`). */
  readonly links: readonly { readonly id: string; readonly endpoints: readonly string[] }[];
}

export function noNode(lab: Pick<LabNames, 'name' | 'nodes'>, node: string): TopoError {
  return new TopoError(`no node "${node}" in lab ${lab.name} (nodes: ${lab.nodes.join(', ')})`, { code: 'E_NO_NODE' });
}

export function noLink(lab: Pick<LabNames, 'name' | 'links'>, endpoint: string): TopoError {
  const known = lab.links.flatMap((l) => [l.id, ...l.endpoints]);
  return new TopoError(`no link "${endpoint}" in lab ${lab.name} (links and endpoints: ${known.join(', ') || 'none'})`, {
    code: 'E_NO_LINK',
    hint: 'name an endpoint as NODE:IFACE, or a link id from `topo ps`',
  });
}

/** Throws E_NO_CHANNEL unless `channel` is one of the node's `channels:`. */
export function checkChannel(node: string, channels: readonly string[] | undefined, channel: string): void {
  if (!(channels ?? []).includes(channel)) {
    throw new TopoError(`node ${node} has no channel "${channel}" (channels: ${(channels ?? []).join(', ') || 'none'})`, { code: 'E_NO_CHANNEL', node });
  }
}

/** Throws E_NO_NODE unless the lab has `node`. */
export function checkNode(lab: Pick<LabNames, 'name' | 'nodes'>, node: string): void {
  if (!lab.nodes.includes(node)) throw noNode(lab, node);
}

/**
 * The index of the link `endpoint` names: `r1:eth1` (an endpoint) or a link id (`l1`, as `ps` shows); a bare node
 * name is not enough. Throws E_NO_LINK listing what exists.
 */
export function linkIndex(lab: Pick<LabNames, 'name' | 'links'>, endpoint: string): number {
  const byId = lab.links.findIndex((l) => l.id === endpoint);
  if (byId >= 0) return byId;
  const [node, iface] = endpoint.split(':');
  const found = iface === undefined ? -1 : lab.links.findIndex((l) => l.endpoints.some((ep) => ep === `${node}:${iface}`));
  if (found >= 0) return found;
  throw noLink(lab, endpoint);
}

type ResolvedLinks = readonly { id: string; endpoints: readonly { node: string; iface: string }[] }[];

/** Resolved links as names: each id with its endpoints as `node:iface`. */
function linkNames(links: ResolvedLinks): LabNames['links'] {
  return links.map((l) => ({ id: l.id, endpoints: l.endpoints.map((ep) => `${ep.node}:${ep.iface}`) }));
}

/** The names of a resolved topology (the local lab). */
export function topologyNames(t: { name: string; nodes: readonly { name: string }[]; links: ResolvedLinks }): LabNames {
  return { name: t.name, nodes: t.nodes.map((n) => n.name), links: linkNames(t.links) };
}

/** The names in a lab's status (a remote lab, the control server). */
export function statusNames(s: { lab: string; nodes: readonly { name: string }[]; links: readonly { id: string; endpoints: readonly string[] }[] }): LabNames {
  return { name: s.lab, nodes: s.nodes.map((n) => n.name), links: s.links };
}

/** The resolved link `endpoint` names (see linkIndex). */
export function endpointLink<L extends { id: string; endpoints: readonly { node: string; iface: string }[] }>(topology: { name: string; links: readonly L[] }, endpoint: string): L {
  return topology.links[linkIndex({ name: topology.name, links: linkNames(topology.links) }, endpoint)]!;
}
