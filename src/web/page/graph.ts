// The drawing: nodes and links laid out by dagre, drawn as HTML boxes over SVG lines, updated in place as state arrives.
import { Graph, layout } from '@dagrejs/dagre';
import { h } from './api.js';
import type { Impairment, LinkStatus, LiveState } from './types.js';

const NODE = { width: 120, height: 52 };
const LINK = { width: 150, height: 60 };
const SVG = 'http://www.w3.org/2000/svg';

export interface GraphHandlers {
  openNode(name: string): void;
  openLink(id: string): void;
  setLink(id: string, state: 'up' | 'down'): void;
}

interface Drawn {
  nodes: Map<string, HTMLElement>;
  links: Map<string, { el: HTMLElement; lines: SVGPathElement[]; rate: HTMLElement; impair: HTMLElement }>;
}

const nodeOf = (ep: string) => ep.slice(0, ep.indexOf(':'));

export class Drawing {
  private drawn?: Drawn;
  private shape = '';
  /** Last counters sample per link, for rates. */
  private readonly last = new Map<string, { at: number; bytes: number; text: string }>();

  constructor(
    private readonly root: HTMLElement,
    private readonly on: GraphHandlers,
  ) {}

  update(state: LiveState): void {
    const { nodes, links } = state.status;
    const shape = JSON.stringify([nodes.map((n) => n.name), links.map((l) => [l.id, l.endpoints])]);
    if (shape !== this.shape || !this.drawn) {
      this.shape = shape;
      this.drawn = this.draw(state);
    }
    for (const n of nodes) {
      const el = this.drawn.nodes.get(n.name)!;
      el.dataset.state = n.state;
      el.querySelector('.sub')!.textContent = `${n.state}${n.restarts ? ` · ${n.restarts} restart${n.restarts > 1 ? 's' : ''}` : ''}`;
    }
    for (const l of links) {
      const d = this.drawn.links.get(l.id)!;
      d.el.dataset.state = l.state;
      for (const line of d.lines) line.setAttribute('class', `edge ${l.state}`);
      d.rate.textContent = this.rate(l);
      d.impair.textContent = impairText(state.impairments.filter((i) => i.link === l.id));
    }
  }

  /** Bytes per second through a forwarded link since the last sample (both ways together). */
  private rate(l: LinkStatus): string {
    if (!l.counters) return l.kind;
    const bytes = l.counters.reduce((s, c) => s + c.rx.bytes, 0);
    const now = performance.now();
    const prev = this.last.get(l.id);
    // Two pushes close together (an event and the tick): keep the rate measured over the longer span.
    if (prev && now - prev.at < 200) return prev.text;
    const text = prev ? `${human(((bytes - prev.bytes) * 1000) / (now - prev.at))}/s` : '…';
    this.last.set(l.id, { at: now, bytes, text });
    return text;
  }

  private draw(state: LiveState): Drawn {
    const g = new Graph({ multigraph: true });
    g.setGraph({ rankdir: 'TB', nodesep: 50, ranksep: 40, edgesep: 30, marginx: 20, marginy: 20 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const n of state.status.nodes) g.setNode(n.name, { ...NODE });
    for (const l of state.status.links) {
      const ends = [...new Set(l.endpoints.map(nodeOf))];
      if (l.endpoints.length === 2 && ends.length === 2) g.setEdge(ends[0]!, ends[1]!, { ...LINK, labelpos: 'c' }, l.id);
      else {
        // A segment (or a link looping on one node): its own point in the drawing, wired to each member.
        g.setNode(`link:${l.id}`, { ...LINK });
        for (const n of ends) g.setEdge(`link:${l.id}`, n, {}, `${l.id}:${n}`);
      }
    }
    layout(g);
    const size = g.graph() as { width?: number; height?: number };
    this.root.replaceChildren();
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('width', String(size.width ?? 0));
    svg.setAttribute('height', String(size.height ?? 0));
    this.root.style.width = `${size.width ?? 0}px`;
    this.root.style.height = `${size.height ?? 0}px`;
    this.root.append(svg);
    const drawn: Drawn = { nodes: new Map(), links: new Map() };
    const place = (el: HTMLElement, x: number, y: number, box: { width: number; height: number }) => {
      el.style.left = `${x - box.width / 2}px`;
      el.style.top = `${y - box.height / 2}px`;
      this.root.append(el);
    };
    for (const n of state.status.nodes) {
      const p = g.node(n.name) as { x: number; y: number };
      const el = h('div', { class: 'node', 'data-node': n.name, 'data-state': n.state, title: `open ${n.name}'s console` }, h('div', { class: 'name' }, n.name), h('div', { class: 'sub' }));
      el.addEventListener('click', () => this.on.openNode(n.name));
      place(el, p.x, p.y, NODE);
      drawn.nodes.set(n.name, el);
    }
    for (const l of state.status.links) {
      const lines: SVGPathElement[] = [];
      let at: { x: number; y: number };
      for (const e of g.edges().filter((e) => e.name === l.id || e.name?.startsWith(`${l.id}:`))) {
        const edge = g.edge(e) as { points: { x: number; y: number }[]; x?: number; y?: number };
        const path = document.createElementNS(SVG, 'path');
        path.setAttribute('d', edge.points.map((p, i) => `${i ? 'L' : 'M'}${p.x},${p.y}`).join(' '));
        svg.append(path);
        lines.push(path);
        if (edge.x !== undefined && edge.y !== undefined && e.name === l.id) at = { x: edge.x, y: edge.y };
      }
      at ??= g.node(`link:${l.id}`) as { x: number; y: number };
      const down = h('button', { 'data-action': 'down', title: 'carrier off at every end' }, 'down');
      const up = h('button', { 'data-action': 'up', title: 'carrier on again' }, 'up');
      const more = h('button', { 'data-action': 'open', title: 'impair, capture' }, '⋯');
      down.addEventListener('click', () => this.on.setLink(l.id, 'down'));
      up.addEventListener('click', () => this.on.setLink(l.id, 'up'));
      more.addEventListener('click', () => this.on.openLink(l.id));
      const rate = h('span', { class: 'rate' });
      const impair = h('div', { class: 'impair' });
      const el = h('div', { class: 'link', 'data-link': l.id, 'data-state': l.state, title: l.endpoints.join(' — ') }, h('div', {}, h('b', {}, l.id), ' ', rate), impair, h('div', { class: 'actions' }, down, up, more));
      place(el, at.x, at.y, LINK);
      drawn.links.set(l.id, { el, lines, rate, impair });
    }
    return drawn;
  }
}

export function human(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB'];
  let v = Math.max(0, bytes);
  let i = 0;
  for (; v >= 1000 && i < units.length - 1; i++) v /= 1000;
  return `${v < 10 && i ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

function impairText(list: Impairment[]): string {
  const parts = new Set<string>();
  for (const i of list) {
    const m = i.impair;
    if (!m) continue;
    if (m.delayMs) parts.add(`${m.delayMs}ms${m.jitterMs ? `±${m.jitterMs}` : ''}`);
    if (m.lossPct) parts.add(`loss ${m.lossPct}%`);
    if (m.rateBps) parts.add(`${human(m.rateBps / 8)}/s`);
    if (m.duplicatePct) parts.add(`dup ${m.duplicatePct}%`);
    if (m.reorderPct) parts.add(`reorder ${m.reorderPct}%`);
    if (m.corruptPct) parts.add(`corrupt ${m.corruptPct}%`);
  }
  return [...parts].join(' ');
}
