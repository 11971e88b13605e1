// `topo ps [LAB] [--json]`: running labs, their nodes and links.
import { listLabs } from '../control/labs.js';
import { runBase } from '../runtime/rundir.js';
import type { LabStatus } from '../api/status.js';
import { seconds } from '../ui/format.js';
import { withLab, type LabFlags } from './lab-args.js';

export async function psCommand(lab: string | undefined, flags: LabFlags & { json?: boolean }): Promise<number> {
  if (flags.labFile !== undefined) {
    // One lab over its runners: a runner that does not answer shows its node unreachable, the others as usual.
    const s = await withLab(lab, flags, (remote) => remote.status());
    process.stdout.write(flags.json ? `${JSON.stringify([s], null, 2)}\n` : `${render(s).join('\n')}\n`);
    return 0;
  }
  const labs = (await listLabs(runBase(flags.runDir))).filter((l) => !lab || l.lab === lab);
  if (lab && labs.length === 0) {
    process.stderr.write(`topo: error: no lab "${lab}"\n`);
    return 1;
  }
  const rows = labs.map((l) => l.status ?? { lab: l.lab, file: '', state: l.state, runDir: l.dir, nodes: [], links: [] });
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  if (rows.length === 0) {
    process.stdout.write('no labs running\n');
    return 0;
  }
  for (const s of rows) process.stdout.write(`${render(s as LabStatus).join('\n')}\n`);
  return 0;
}

function table(rows: string[][], indent = ''): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => indent + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

/** Frames the runner relayed (sum over endpoints) and drops by cause; direct links are not counted. */
function traffic(l: LabStatus['links'][number]): [string, string] {
  if (!l.counters) return ['-', '-'];
  const frames = l.counters.reduce((n, c) => n + c.rx.frames, 0);
  const drops: Record<string, number> = {};
  for (const c of l.counters) for (const [k, v] of Object.entries(c.drops)) drops[k] = (drops[k] ?? 0) + v;
  const d = Object.entries(drops).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`);
  return [String(frames), d.join(', ') || '0'];
}

function render(s: LabStatus): string[] {
  if (s.state === 'stale') return [`${s.lab}  stale (its supervisor is gone; \`topo down ${s.lab}\` removes ${s.runDir})`];
  // A spread lab has no one supervisor (pid 0): each runner is its own.
  const head = `${s.lab}  ${s.state}  ${s.file}  accel ${s.accel}  seed ${s.seed}  up ${seconds(s.uptimeMs)}  ${s.pid ? `pid ${s.pid}` : 'spread'}`;
  const nodes = table([['NODE', 'STATE', 'PID', 'RESTARTS', 'PORTS'], ...s.nodes.map((n) => [n.name, n.state, n.pid ? String(n.pid) : '-', String(n.restarts), n.ports.map((p) => `${p.bind}:${p.host}->${p.guest}/${p.protocol}`).join(' ') || '-'])], '  ');
  const links = s.links.length ? table([['LINK', 'ENDPOINTS', 'STATE', 'KIND', 'FRAMES', 'DROPS'], ...s.links.map((l) => [l.id, l.endpoints.join(' '), l.state, l.kind, ...traffic(l)])], '  ') : [];
  const unreachable = s.nodes.filter((n) => n.unreachable).map((n) => `  ${n.name}: ${n.unreachable}`);
  return [head, ...nodes, ...links, ...unreachable];
}
