// `topo test --attach LAB`: does a running lab run the scenario's topology, and what did the steps change in it.
import type { ImpairmentStatus } from '../api/dataplane.js';
import type { LabStatus } from '../api/status.js';
import { describeImpairment } from '../topology/impairment.js';
import type { Scenario } from './model.js';

/** A link as both sides can name it: its endpoints, sorted (link ids follow file order, which may differ). */
const linkKey = (endpoints: readonly string[]) => [...endpoints].sort().join(' ');

const list = (names: readonly string[]) => names.join(', ');

/** Why the lab cannot run the scenario's steps (empty: it can): its name, nodes, links, and links the steps impair. */
export function topologyMismatch(scenario: Pick<Scenario, 'topology' | 'forwardLinks'>, status: Pick<LabStatus, 'lab' | 'nodes' | 'links'>): string[] {
  const t = scenario.topology;
  const problems: string[] = [];
  // Another name is another lab: its nodes and links are beside the point.
  if (status.lab !== t.name) return [`the scenario's topology is ${t.name}, not ${status.lab}`];
  const labNodes = new Set(status.nodes.map((n) => n.name));
  const wantNodes = new Set(t.nodes.map((n) => n.name));
  const missing = [...wantNodes].filter((n) => !labNodes.has(n));
  const extra = [...labNodes].filter((n) => !wantNodes.has(n));
  if (missing.length > 0) problems.push(`node${missing.length > 1 ? 's' : ''} ${list(missing)} not in the lab`);
  if (extra.length > 0) problems.push(`node${extra.length > 1 ? 's' : ''} ${list(extra)} not in the scenario's topology`);
  const labLinks = new Map(status.links.map((l) => [linkKey(l.endpoints), l]));
  const wantLinks = new Map(t.links.map((l) => [linkKey(l.endpoints.map((e) => `${e.node}:${e.iface}`)), l]));
  for (const [key, l] of wantLinks) if (!labLinks.has(key)) problems.push(`link ${key.replace(/ /g, '-')} (${l.id}) not in the lab`);
  for (const [key] of labLinks) if (!wantLinks.has(key)) problems.push(`the lab's link ${key.replace(/ /g, '-')} not in the scenario's topology`);
  // An impair step needs the link forwarded through the runner; a lab started from the file alone may wire it direct.
  for (const id of scenario.forwardLinks) {
    const l = t.links.find((x) => x.id === id);
    const key = l ? linkKey(l.endpoints.map((e) => `${e.node}:${e.iface}`)) : undefined;
    const running = key === undefined ? undefined : labLinks.get(key);
    if (running && running.kind !== 'forwarded') problems.push(`a step impairs link ${key!.replace(/ /g, '-')}, which the lab wires direct (start it with \`topo up --forward-all\` or mark the link forward: true)`);
  }
  return problems;
}

/** What of a lab steps can change and leave changed: link carrier, impairments, node states and lives. */
export interface LabState {
  links: Map<string, { endpoints: readonly string[]; state: string }>;
  nodes: Map<string, { state: string; pid?: number; restarts: number }>;
  impairments: readonly ImpairmentStatus[];
}

export function labState(status: Pick<LabStatus, 'nodes' | 'links'>, impairments: readonly ImpairmentStatus[]): LabState {
  return {
    links: new Map(status.links.map((l) => [l.id, { endpoints: l.endpoints, state: l.state }])),
    nodes: new Map(status.nodes.map((n) => [n.name, { state: n.state, pid: n.pid, restarts: n.restarts }])),
    impairments,
  };
}

/** One line per change, in words: what the steps left different from how they found the lab. */
export function labChanges(before: LabState, after: LabState): string[] {
  const out: string[] = [];
  const linkName = (id: string, eps: readonly string[]) => `link ${id} (${eps.join('-')})`;
  for (const [id, a] of after.links) {
    const b = before.links.get(id);
    if (b && b.state !== a.state) out.push(`${linkName(id, a.endpoints)} is ${a.state} (was ${b.state})`);
  }
  const imp = (s: readonly ImpairmentStatus[]) => new Map(s.map((i) => [`${i.link} ${i.to}`, i]));
  const was = imp(before.impairments);
  for (const [key, i] of imp(after.impairments)) {
    const now = describeImpairment(i.impair);
    const then = describeImpairment(was.get(key)?.impair);
    const eps = after.links.get(i.link)?.endpoints ?? [];
    if (now !== then) out.push(`${linkName(i.link, eps)} towards ${i.to}: ${now} (was ${then})`);
  }
  for (const [name, a] of after.nodes) {
    const b = before.nodes.get(name);
    if (!b) continue;
    if (b.state !== a.state) out.push(`node ${name} is ${a.state} (was ${b.state})`);
    else if (a.restarts !== b.restarts || a.pid !== b.pid) out.push(`node ${name} was restarted`);
  }
  return out;
}
