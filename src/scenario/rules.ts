// Scenario rules the schema cannot say: one action per step, cross-checks against the topology, patterns, files.
// Like the topology rules they run even when the schema failed, so every access is defensive.
import path from 'node:path';
import { pointer, subject, suggest, type Issue } from '../topology/diagnostics.js';
import { isRecord } from '../topology/doc.js';
import type { ResolvedTopology } from '../topology/model.js';
import { patternProblem } from '../topology/pattern.js';
import type { FileKind } from '../topology/rules.js';

export const ACTIONS = ['exec', 'link', 'impair', 'wait', 'node', 'copy', 'sleep'] as const;
const GUEST_PATH = /^([a-z][a-z0-9-]{0,31}):(\/.*)$/;

export interface ScenarioRuleContext {
  /** Directory of the scenario file: local copy paths resolve against it. */
  dir: string;
  fileKind: (absPath: string) => FileKind;
  /** Undefined when the topology itself is invalid: cross-checks are skipped then. */
  topology?: ResolvedTopology;
}

/** `r1:/tmp/x` -> node and path; undefined for a host path. */
export function guestPath(s: string): { node: string; path: string } | undefined {
  const m = GUEST_PATH.exec(s);
  return m ? { node: m[1] as string, path: m[2] as string } : undefined;
}

export function checkScenarioRules(data: unknown, ctx: ScenarioRuleContext): Issue[] {
  if (!isRecord(data)) return [];
  const issues: Issue[] = [];
  const add = (p: string, code: string, message: string, at?: 'key' | 'value') => issues.push({ path: p, code, message, at });
  const topo = ctx.topology;
  const names = topo ? topo.nodes.map((n) => n.name) : [];
  const endpoints = topo ? topo.links.flatMap((l) => l.endpoints.map((e) => `${e.node}:${e.iface}`)) : [];

  const checkNode = (p: string, name: unknown) => {
    if (!topo || typeof name !== 'string' || names.includes(name)) return;
    const near = suggest(name, names);
    add(p, 'E_UNKNOWN_NODE', `${subject(p, name)}: unknown node "${name}"${near ? `; did you mean "${near}"?` : ''} (nodes in ${topo.name}: ${names.join(', ')})`);
  };
  const checkPattern = (p: string, v: unknown) => {
    const problem = typeof v === 'string' ? patternProblem(v) : undefined;
    if (problem) add(p, 'E_PATTERN', `${subject(p, undefined)}: ${problem}`);
  };
  const checkEndpoints = (p: string, eps: unknown) => {
    if (!Array.isArray(eps)) return;
    const links = new Set<string>();
    eps.forEach((ep, i) => {
      if (typeof ep !== 'string') return;
      if (!/^[a-z][a-z0-9-]{0,31}:eth[0-9]+$/.test(ep)) return add(`${p}/${i}`, 'E_ENDPOINT', `endpoint ${JSON.stringify(ep)}: write NODE:ethN, e.g. r1:eth1`);
      if (!topo) return;
      const link = topo.links.find((l) => l.endpoints.some((e) => `${e.node}:${e.iface}` === ep));
      if (link) return void links.add(link.id);
      const node = ep.split(':')[0] as string;
      if (!names.includes(node)) return checkNode(`${p}/${i}`, node);
      const near = suggest(ep, endpoints);
      add(`${p}/${i}`, 'E_ENDPOINT', `endpoint "${ep}" is not on any link${near ? `; did you mean "${near}"?` : ''} (endpoints: ${endpoints.join(', ') || 'none'})`);
    });
    if (links.size > 1) add(p, 'E_ENDPOINT', `endpoints ${eps.join(' and ')} are on different links (${[...links].join(', ')}); name the two ends of one link`);
  };

  if (Array.isArray(data.collect)) {
    data.collect.forEach((c, i) => {
      if (typeof c !== 'string') return;
      const p = pointer('collect', i);
      const colon = c.indexOf(':');
      const file = colon < 0 ? '' : c.slice(colon + 1);
      // The guest path names the file inside the bundle: it must say exactly one absolute place.
      if (colon > 0 && !file.startsWith('/')) return add(p, 'E_COLLECT_PATH', `collect ${JSON.stringify(c)}: the guest path must be absolute; write NODE:/path, e.g. ${c.slice(0, colon)}:/${file}`);
      if (file.split('/').includes('..')) return add(p, 'E_COLLECT_PATH', `collect ${JSON.stringify(c)}: ".." is not allowed in a collected path; name the file by its absolute path`);
      const g = guestPath(c);
      if (g) checkNode(p, g.node);
    });
  }
  const steps = Array.isArray(data.steps) ? data.steps : [];
  steps.forEach((step, i) => {
    const base = pointer('steps', i);
    if (!isRecord(step)) return;
    const actions = ACTIONS.filter((a) => Object.hasOwn(step, a));
    if (actions.length === 0) {
      const other = Object.keys(step).find((k) => k !== 'name');
      // An unknown key is reported by the schema with "did you mean"; say what is missing only when there is none.
      if (other === undefined) add(base, 'E_STEP_ACTION', `step ${i + 1} has no action; give one of ${ACTIONS.join(', ')}`);
      return;
    }
    if (actions.length > 1) {
      add(`${base}/${actions[1]}`, 'E_STEP_ACTION', `step ${i + 1} has ${actions.length} actions (${actions.join(', ')}); one per step, split it into ${actions.length} steps`, 'key');
    }
    const action = actions[0] as (typeof ACTIONS)[number];
    const body = step[action];
    const p = `${base}/${action}`;
    if (!isRecord(body)) return;
    if (action === 'exec') {
      checkNode(`${p}/node`, body.node);
      if (isRecord(body.expect)) for (const k of ['stdout', 'stderr']) checkPattern(`${p}/expect/${k}`, body.expect[k]);
    } else if (action === 'wait') {
      checkNode(`${p}/node`, body.node);
      checkPattern(`${p}/console`, body.console);
      const has = ['console', 'port'].filter((k) => Object.hasOwn(body, k));
      if (has.length !== 1) add(p, 'E_WAIT', `wait in step ${i + 1} needs exactly one of console (a regex) or port (a number); it has ${has.length === 0 ? 'neither' : 'both'}`);
      if (body.udp !== undefined && body.port === undefined) add(`${p}/udp`, 'E_WAIT', 'udp applies to a port wait; add port: N or remove udp', 'key');
    } else if (action === 'node') {
      checkNode(`${p}/name`, body.name);
    } else if (action === 'link' || action === 'impair') {
      checkEndpoints(`${p}/endpoints`, body.endpoints);
      if (action === 'impair') checkImpair(p, body, add);
    } else if (action === 'copy') {
      checkCopy(p, body, ctx, add, checkNode);
    }
  });
  return issues;
}

function checkImpair(p: string, body: Record<string, unknown>, add: (p: string, code: string, message: string, at?: 'key' | 'value') => void): void {
  const fields = Object.keys(body).filter((k) => !['endpoints', 'clear', 'direction'].includes(k));
  if (body.clear === true && fields.length > 0) add(`${p}/clear`, 'E_IMPAIR', `clear: true removes every impairment; drop ${fields.join(', ')} or clear`, 'key');
  if (body.clear !== true && fields.length === 0) add(p, 'E_IMPAIR', 'impair needs at least one of delay, jitter, loss, rate, duplicate, reorder, corrupt (or clear: true)');
}

function checkCopy(
  p: string,
  body: Record<string, unknown>,
  ctx: ScenarioRuleContext,
  add: (p: string, code: string, message: string, at?: 'key' | 'value') => void,
  checkNode: (p: string, name: unknown) => void,
): void {
  if (typeof body.from !== 'string' || typeof body.to !== 'string') return;
  const from = guestPath(body.from);
  const to = guestPath(body.to);
  if (!!from === !!to) {
    add(p, 'E_COPY', `copy goes between the host and a guest: one of from/to is NODE:/absolute/path, the other a host path (got ${from ? 'two guest paths' : 'two host paths'})`);
    return;
  }
  if (from) checkNode(`${p}/from`, from.node);
  if (to) checkNode(`${p}/to`, to.node);
  if (to) {
    const local = path.resolve(ctx.dir, body.from);
    const kind = ctx.fileKind(local);
    if (kind !== 'file') add(`${p}/from`, 'E_FILE', `${kind === 'directory' ? 'is a directory' : 'no such file'}: ${local} (copy takes one file; paths are relative to the scenario file)`);
  }
}
