// Words for events, shared by every reporter so TTY, plain and JSON tell the same story.
import type { TopoError } from '../errors.js';
import type { NodeEvent } from '../runtime/events.js';
import type { Lab } from '../runtime/lab.js';

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function describeNode(e: NodeEvent): string {
  switch (e.state) {
    case 'ready':
      return `ready in ${seconds(e.readyMs ?? 0)}`;
    case 'booting':
      return e.pid ? `booting (pid ${e.pid})` : 'booting';
    case 'failed':
      return `failed: ${e.error?.message ?? e.detail ?? 'unknown error'}`;
    case 'restarting':
      return `restarting: ${e.detail ?? ''}`.trim();
    default:
      return e.state;
  }
}

/** The lines printed once the lab is ready: nodes, forwarded ports, where logs are. */
export function summaryLines(lab: Lab): string[] {
  const lines = [`lab ${lab.topology.name}: ${lab.topology.nodes.length} nodes, ${lab.topology.links.length} links, accel ${lab.accel}`];
  for (const node of lab.topology.nodes) {
    const fwd = (lab.forwards.get(node.name) ?? []).map((f) => `${f.bind}:${f.host}->${f.guest}/${f.protocol}`);
    const addrs = node.interfaces.flatMap((i) => i.addresses.map((a) => `${i.name} ${a}`));
    const parts = [addrs.length ? addrs.join(', ') : undefined, fwd.length ? `ports ${fwd.join(' ')}` : undefined].filter(Boolean);
    lines.push(`  ${node.name}${parts.length ? `  ${parts.join('; ')}` : ''}`);
  }
  lines.push(`logs: ${lab.runDir.path}/<node>.log`);
  const captured = lab.topology.links.filter((l) => l.capture).map((l) => l.id);
  if (captured.length) lines.push(`captures: ${lab.captureDir}/{${captured.join(',')}}.pcap`);
  lines.push('press Ctrl-C to stop (twice to force)');
  return lines;
}

/** One error line plus the tails that explain it (QEMU stderr first: it names the cause). */
export function errorLines(err: TopoError): string[] {
  const lines = [`topo: ${err.oneLine()}`];
  const indent = (title: string, text?: string) => {
    if (!text) return;
    lines.push(`  ${title}:`);
    for (const l of text.split('\n').slice(-10)) lines.push(`    ${l}`);
  };
  indent(`${err.stderrSource ?? 'qemu'} stderr`, err.stderrTail);
  indent('console (last lines)', err.consoleTail);
  return lines;
}
