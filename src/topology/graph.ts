// Graph views of a resolved topology: the wiring (a multigraph) and boot order (a DAG), plus renderers.
import { Graph, alg } from '@dagrejs/graphlib';
import { TopoError } from '../errors.js';
import type { NodeKind, ResolvedLink, ResolvedTopology } from './model.js';

export interface VertexLabel {
  type: 'node' | 'segment';
  /** Node kind, or undefined for a segment. */
  kind?: NodeKind;
  /** For segments: the link id. */
  link?: string;
}

export interface EdgeLabel {
  link: string;
  /** Interface and address on the v side and on the w side. */
  v: { iface: string; address?: string };
  w: { iface: string; address?: string };
}

export const segmentId = (link: string) => `seg:${link}`;

/** One vertex per node and per segment; one edge per p2p link, one per segment member. Edge name = link id (or link:node). */
export function wiringGraph(t: ResolvedTopology): Graph<string, VertexLabel, EdgeLabel> {
  const g = new Graph<string, VertexLabel, EdgeLabel>({ directed: false, multigraph: true });
  g.setGraph(t.name);
  for (const n of t.nodes) g.setNode(n.name, { type: 'node', kind: n.kind });
  for (const l of t.links) {
    if (l.kind === 'p2p') {
      const [a, b] = l.endpoints;
      if (!a || !b) continue;
      g.setEdge(a.node, b.node, { link: l.id, v: end(a), w: end(b) }, l.id);
    } else {
      const seg = segmentId(l.id);
      g.setNode(seg, { type: 'segment', link: l.id });
      for (const e of l.endpoints) g.setEdge(e.node, seg, { link: l.id, v: end(e), w: { iface: '' } }, `${l.id}:${e.node}`);
    }
  }
  return g;
}

function end(e: { iface: string; address?: string }): { iface: string; address?: string } {
  return e.address === undefined ? { iface: e.iface } : { iface: e.iface, address: e.address };
}

/** What boot order needs of a topology: each node's name and depends_on (a resolved topology, or a lab's node specs). */
export interface DependencyNodes {
  readonly nodes: readonly { readonly name: string; readonly dependsOn: readonly string[] }[];
}

/** Edge node -> dependency: "r1 depends on r2" is r1 -> r2, so boot order is a reverse topological sort. */
export function dependencyGraph(t: DependencyNodes): Graph {
  const g = new Graph({ directed: true });
  for (const n of t.nodes) g.setNode(n.name);
  for (const n of t.nodes) for (const d of n.dependsOn) g.setEdge(n.name, d);
  return g;
}

/**
 * Boot order as levels: level 0 depends on nothing, every later level only on earlier ones, so the nodes
 * of one level may boot in parallel once the levels before are ready. File order within a level.
 */
export function bootLevels(t: DependencyNodes): string[][] {
  const g = dependencyGraph(t);
  let order: string[];
  try {
    order = alg.topsort(g).reverse();
  } catch (err) {
    if (err instanceof alg.CycleException) throw new TopoError('depends_on has a cycle; validate the topology first', { code: 'E_DEP_CYCLE', cause: err });
    throw err;
  }
  const level = new Map<string, number>();
  for (const n of order) {
    let l = 0;
    for (const d of g.successors(n) ?? []) l = Math.max(l, (level.get(d) ?? 0) + 1);
    level.set(n, l);
  }
  const levels: string[][] = [];
  for (const n of t.nodes) (levels[level.get(n.name) ?? 0] ??= []).push(n.name);
  return levels;
}

/** Every node once, each after all it depends on (levels flattened). */
export function bootOrder(t: DependencyNodes): string[] {
  return bootLevels(t).flat();
}

const q = (s: string) => JSON.stringify(s);

function side(e: { iface: string; address?: string }): string {
  return e.address ? `${e.iface} ${e.address}` : e.iface;
}

function rate(bps: number): string {
  for (const [unit, n] of [['gbit', 1e9], ['mbit', 1e6], ['kbit', 1e3]] as const) if (bps >= n && bps % (n / 1000) === 0) return `${bps / n}${unit}`;
  return `${bps}bit`;
}

function linkNote(l: ResolvedLink): string {
  const parts: string[] = [];
  if (l.mtu !== 1500) parts.push(`mtu ${l.mtu}`);
  const i = l.impair;
  if (i) {
    if (i.delayMs) parts.push(`delay ${i.delayMs}ms${i.jitterMs ? `±${i.jitterMs}ms` : ''}`);
    if (i.lossPct) parts.push(`loss ${i.lossPct}%`);
    if (i.rateBps) parts.push(`rate ${rate(i.rateBps)}`);
  }
  if (l.capture) parts.push('pcap');
  return parts.length ? ` (${parts.join(', ')})` : '';
}

// Renderers walk the topology in file order rather than the graph, so output is deterministic.
export function toDot(t: ResolvedTopology): string {
  const out = [`graph ${q(t.name)} {`, '  node [shape=box];'];
  for (const n of t.nodes) out.push(`  ${q(n.name)} [label=${q(`${n.name}\n${n.kind}`)}];`);
  for (const l of t.links) {
    if (l.kind === 'segment') out.push(`  ${q(segmentId(l.id))} [shape=ellipse, label=${q(`${l.id}${linkNote(l)}`)}];`);
  }
  for (const l of t.links) {
    if (l.kind === 'p2p') {
      const [a, b] = l.endpoints;
      if (!a || !b) continue;
      out.push(`  ${q(a.node)} -- ${q(b.node)} [label=${q(`${l.id}${linkNote(l)}`)}, taillabel=${q(side(a))}, headlabel=${q(side(b))}];`);
    } else {
      for (const e of l.endpoints) out.push(`  ${q(e.node)} -- ${q(segmentId(l.id))} [taillabel=${q(side(e))}];`);
    }
  }
  // Boot dependencies: dashed arrows from a node to what it waits for.
  for (const n of t.nodes) for (const d of n.dependsOn) out.push(`  ${q(n.name)} -- ${q(d)} [style=dashed, dir=forward, label="depends on"];`);
  out.push('}');
  return `${out.join('\n')}\n`;
}

// Prefixed ids dodge Mermaid keywords (a node named "end"); names never contain '_', so no collisions.
const mid = (s: string) => (s.startsWith('seg:') ? `seg_${s.slice(4)}` : `n_${s.replace(/-/g, '_')}`);
const mtext = (s: string) => `"${s.replace(/"/g, '#quot;')}"`;

export function toMermaid(t: ResolvedTopology): string {
  const out = ['graph LR'];
  for (const n of t.nodes) out.push(`  ${mid(n.name)}[${mtext(`${n.name} (${n.kind})`)}]`);
  for (const l of t.links) if (l.kind === 'segment') out.push(`  ${mid(segmentId(l.id))}((${mtext(`${l.id}${linkNote(l)}`)}))`);
  for (const l of t.links) {
    if (l.kind === 'p2p') {
      const [a, b] = l.endpoints;
      if (!a || !b) continue;
      out.push(`  ${mid(a.node)} ---|${mtext(`${l.id}: ${side(a)} — ${side(b)}${linkNote(l)}`)}| ${mid(b.node)}`);
    } else {
      for (const e of l.endpoints) out.push(`  ${mid(e.node)} ---|${mtext(side(e))}| ${mid(segmentId(l.id))}`);
    }
  }
  for (const n of t.nodes) for (const d of n.dependsOn) out.push(`  ${mid(n.name)} -.->|"depends on"| ${mid(d)}`);
  return `${out.join('\n')}\n`;
}

export interface GraphJson {
  nodes: { name: string; kind: NodeKind; dependsOn: string[]; interfaces: { name: string; mac: string; kind: string; link?: string; addresses: string[] }[] }[];
  segments: { id: string; link: string; members: { node: string; iface: string; address?: string }[] }[];
  links: { id: string; kind: 'p2p' | 'segment'; endpoints: { node: string; iface: string; mac: string; address?: string }[]; mtu: number; capture: boolean; impair?: object }[];
  /** bootLevels(): nodes grouped so each group depends only on earlier ones. */
  bootLevels: string[][];
}

export function toJson(t: ResolvedTopology): GraphJson {
  return {
    nodes: t.nodes.map((n) => ({
      name: n.name,
      kind: n.kind,
      dependsOn: [...n.dependsOn],
      interfaces: n.interfaces.map((i) => ({ name: i.name, mac: i.mac, kind: i.kind, ...(i.link ? { link: i.link } : {}), addresses: [...i.addresses] })),
    })),
    segments: t.links
      .filter((l) => l.kind === 'segment')
      .map((l) => ({ id: segmentId(l.id), link: l.id, members: l.endpoints.map((e) => ({ node: e.node, iface: e.iface, ...(e.address ? { address: e.address } : {}) })) })),
    links: t.links.map((l) => ({
      id: l.id,
      kind: l.kind,
      endpoints: l.endpoints.map((e) => ({ ...e })),
      mtu: l.mtu,
      capture: l.capture,
      ...(l.impair ? { impair: { ...l.impair } } : {}),
    })),
    bootLevels: bootLevels(t),
  };
}
