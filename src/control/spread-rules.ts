// Which runner of a spread lab answers for what (issue 20), as pure functions over the status's names. Each runner
// runs a node view of the topology; these rules say whose view of a link is authoritative for each question.
import type { ImpairmentStatus, LinkCounters } from '../api/dataplane.js';
import type { LabStatus, LinkStatus, NodeStatus } from '../api/status.js';
import { sortedEnds } from '../runtime/node-view.js';

const split = (ep: string) => {
  const i = ep.indexOf(':');
  return { node: ep.slice(0, i), iface: ep.slice(i + 1) };
};

export const nodeOf = (ep: string): string => split(ep).node;

/** 3 or more endpoints: a switched segment (the topology's `kind: segment`). */
export const isSegment = (l: Pick<LinkStatus, 'endpoints'>): boolean => l.endpoints.length > 2;

/**
 * The node whose runner hosts the link: a segment's switch (lowest-sorted member), a point-to-point link's dialer
 * (lower-sorted end), by the one order runners and `topo k8s render` use (sortedEnds). Its runner's capture is complete.
 */
export function linkHost(l: Pick<LinkStatus, 'endpoints'>): string {
  return sortedEnds(l.endpoints.map(split))[0]!.node;
}

/** The node whose runner applies impairment towards endpoint `to`: a segment's host; else the sender's (the other end's). */
export function directionOwner(l: Pick<LinkStatus, 'endpoints'>, to: string): string {
  if (isSegment(l)) return linkHost(l);
  const other = l.endpoints.find((ep) => ep !== to) ?? to;
  return nodeOf(other);
}

/** The node whose runner's counters of endpoint `ep` are reported: its own node's (a segment: the host's, which sees all). */
export function counterOrigin(l: Pick<LinkStatus, 'endpoints'>, ep: string): string {
  return isSegment(l) ? linkHost(l) : nodeOf(ep);
}

/** The nodes whose runners hold link `l` (its members'). */
export const linkNodes = (l: Pick<LinkStatus, 'endpoints'>): string[] => [...new Set(l.endpoints.map(nodeOf))];

/** What one runner said (or why it did not). */
export interface RunnerReport<T> {
  node: string;
  value?: T;
  error?: string;
}

/** One link from every runner's view of it: down if any runner has it down, each endpoint's counters from its origin. */
export function mergeLink(views: readonly RunnerReport<LinkStatus>[]): LinkStatus {
  const seen = views.filter((v) => v.value).map((v) => ({ node: v.node, link: v.value! }));
  // A segment member other than the host sees only its end and the host's: the host's view has every member.
  const first = seen.reduce((a, b) => (b.link.endpoints.length > a.link.endpoints.length ? b : a)).link;
  const counters: LinkCounters[] = [];
  for (const ep of first.endpoints) {
    const origin = counterOrigin(first, ep);
    const c = seen.find((v) => v.node === origin)?.link.counters?.find((x) => x.endpoint === ep);
    if (c) counters.push(c);
  }
  const anyCounters = seen.some((v) => v.link.counters);
  const remote = seen.flatMap((v) => v.link.remote ?? []);
  return {
    id: first.id,
    endpoints: first.endpoints,
    state: seen.some((v) => v.link.state === 'down') ? 'down' : 'up',
    kind: seen.some((v) => v.link.kind === 'forwarded') ? 'forwarded' : first.kind,
    ...(anyCounters ? { counters } : {}),
    // Each runner's TCP ends of the link (a point-to-point link: the dialer's and the listener's).
    ...(remote.length ? { remote } : {}),
  };
}

/**
 * The union of several lists, each in the order of one whole list they are all part of (the topology's links as each
 * runner's view keeps them): a new item goes right after the item before it in its own list.
 */
export function unionInOrder(lists: readonly (readonly string[])[]): string[] {
  const out: string[] = [];
  for (const list of lists) {
    let at = -1;
    for (const id of list) {
      const i = out.indexOf(id);
      if (i >= 0) at = i;
      else out.splice(++at, 0, id);
    }
  }
  return out;
}

const STATE_ORDER: LabStatus['state'][] = ['ready', 'starting', 'stopping', 'stale'];

/** The lab's status from each runner's (nodes in lab-file order; a runner that did not answer shows its node unreachable). */
export function mergeStatus(lab: string, file: string, reports: readonly RunnerReport<LabStatus>[]): LabStatus {
  const ok = reports.filter((r) => r.value);
  const base = ok[0]?.value;
  const nodes: NodeStatus[] = reports.map((r) =>
    r.value?.nodes.find((n) => n.name === r.node) ??
    { name: r.node, state: 'unreachable', restarts: 0, ports: [], channels: [], unreachable: r.error ?? `its runner does not serve node ${r.node}` });
  const byId = new Map<string, RunnerReport<LinkStatus>[]>();
  for (const r of ok) for (const l of r.value!.links) byId.set(l.id, [...(byId.get(l.id) ?? []), { node: r.node, value: l }]);
  const order = unionInOrder(ok.map((r) => r.value!.links.map((l) => l.id)));
  const worst = ok.reduce((s, r) => Math.max(s, STATE_ORDER.indexOf(r.value!.state)), 0);
  return {
    lab,
    file,
    accel: base?.accel ?? 'tcg',
    seed: base?.seed ?? 0,
    // No one supervisor: each runner has its own.
    pid: 0,
    startedAt: ok.map((r) => r.value!.startedAt).sort()[0] ?? new Date(0).toISOString(),
    uptimeMs: Math.max(0, ...ok.map((r) => r.value!.uptimeMs)),
    state: STATE_ORDER[worst]!,
    runDir: '',
    captureDir: '',
    nodes,
    links: order.map((id) => mergeLink(byId.get(id)!)),
  };
}

/** Impairments reported by several runners: per (link, direction), the owner's word (another runner's only if the owner said nothing). */
export function mergeImpairments(links: readonly Pick<LinkStatus, 'id' | 'endpoints'>[], reports: readonly RunnerReport<ImpairmentStatus[]>[]): ImpairmentStatus[] {
  const out = new Map<string, { s: ImpairmentStatus; owned: boolean }>();
  for (const r of reports) {
    for (const s of r.value ?? []) {
      const link = links.find((l) => l.id === s.link);
      const owned = link !== undefined && directionOwner(link, s.to) === r.node;
      const key = `${s.link}\0${s.to}`;
      const had = out.get(key);
      if (!had || (owned && !had.owned)) out.set(key, { s, owned });
    }
  }
  const order = (s: ImpairmentStatus) => {
    const i = links.findIndex((l) => l.id === s.link);
    return [i, links[i]?.endpoints.indexOf(s.to) ?? 0] as const;
  };
  return [...out.values()].map((v) => v.s).sort((a, b) => order(a)[0] - order(b)[0] || order(a)[1] - order(b)[1]);
}
