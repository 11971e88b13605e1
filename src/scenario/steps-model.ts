// Validated raw steps -> Step objects (durations in ms, links resolved, paths absolute) with derived names.
import path from 'node:path';
import { endpointLink } from '../api/lookup.js';
import type { ResolvedTopology } from '../topology/model.js';
import { parseDuration } from '../topology/units.js';
import { DEFAULT_STEP_TIMEOUT_MS, IMPAIR_FIELDS, type ImpairField, type Location, type Step } from './model.js';
import { ACTIONS, guestPath } from './rules.js';

const ms = (v: unknown, fallback: number): number => (v === undefined ? fallback : (parseDuration(v) as number));

function location(s: string, dir: string): Location {
  return guestPath(s) ?? { local: path.resolve(dir, s) };
}

function shown(loc: Location, raw: string): string {
  return 'node' in loc ? `${loc.node}:${loc.path}` : raw;
}

function short(text: string, max = 60): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** Call only on a step that passed the schema and the rules. */
export function toStep(raw: Record<string, unknown>, index: number, line: number, topology: ResolvedTopology, dir: string): Step {
  const action = ACTIONS.find((a) => Object.hasOwn(raw, a)) as (typeof ACTIONS)[number];
  const b = raw[action] as Record<string, unknown>;
  const base = { index, line };
  const named = (derived: string) => (typeof raw.name === 'string' ? raw.name : derived);
  switch (action) {
    case 'exec': {
      const cmd = b.cmd as string | string[];
      const expect = (b.expect ?? {}) as { exit?: number; stdout?: string; stderr?: string };
      const retry = b.retry as { timeout: unknown; interval?: unknown } | undefined;
      return {
        ...base,
        kind: 'exec',
        name: named(`${String(b.node)}: ${short(typeof cmd === 'string' ? cmd : cmd.join(' '))}`),
        node: b.node as string,
        cmd,
        stdin: b.stdin as string | undefined,
        timeoutMs: ms(b.timeout, DEFAULT_STEP_TIMEOUT_MS),
        expect: { exit: expect.exit ?? 0, stdout: expect.stdout, stderr: expect.stderr },
        retry: retry ? { timeoutMs: ms(retry.timeout, 0), intervalMs: ms(retry.interval, 1000) } : undefined,
      };
    }
    case 'link': {
      const endpoints = b.endpoints as string[];
      return { ...base, kind: 'link', name: named(`link ${endpoints.join(' ')} ${String(b.state)}`), endpoints, link: endpointLink(topology, endpoints[0] as string).id, state: b.state as 'up' | 'down' };
    }
    case 'impair': {
      const endpoints = b.endpoints as string[];
      const spec: Partial<Record<ImpairField, string | number>> = {};
      for (const f of IMPAIR_FIELDS) if (b[f] !== undefined) spec[f] = b[f] as string | number;
      const clear = b.clear === true;
      const what = clear ? 'clear' : Object.entries(spec).map(([k, v]) => `${k} ${String(v)}`).join(', ');
      const direction = (b.direction ?? 'both') as 'both' | 'out' | 'in';
      return { ...base, kind: 'impair', name: named(`impair ${endpoints.join(' ')} ${what}`), endpoints, link: endpointLink(topology, endpoints[0] as string).id, spec, clear, direction };
    }
    case 'wait': {
      const target = b.console !== undefined ? `console /${String(b.console)}/` : `${b.udp ? 'udp' : 'tcp'} port ${String(b.port)}`;
      return { ...base, kind: 'wait', name: named(`wait ${String(b.node)} ${short(target)}`), node: b.node as string, console: b.console as string | undefined, port: b.port as number | undefined, udp: b.udp === true, timeoutMs: ms(b.timeout, DEFAULT_STEP_TIMEOUT_MS) };
    }
    case 'node': {
      const act = b.action as 'crash' | 'restart' | 'stop' | 'start';
      return { ...base, kind: 'node', name: named(`${act} ${String(b.name)}`), node: b.name as string, action: act };
    }
    case 'copy': {
      const from = location(b.from as string, dir);
      const to = location(b.to as string, dir);
      return { ...base, kind: 'copy', name: named(`copy ${shown(from, b.from as string)} -> ${shown(to, b.to as string)}`), from, to };
    }
    case 'sleep':
      return { ...base, kind: 'sleep', name: named(`sleep ${String(raw.sleep)}`), ms: ms(raw.sleep, 0) };
  }
}
