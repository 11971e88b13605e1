// Words for events, shared by every reporter so TTY, plain and JSON tell the same story.
import type { TopoError } from '../errors.js';
import type { NodeEvent } from '../api/events.js';
import type { LabStatus } from '../api/status.js';
import type { ResolvedTopology } from '../topology/model.js';

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
export function summaryLines(topology: ResolvedTopology, status: LabStatus, opts: { detached?: boolean } = {}): string[] {
  const lines = [`lab ${topology.name}: ${topology.nodes.length} nodes, ${topology.links.length} links, accel ${status.accel}, seed ${status.seed}`];
  for (const node of topology.nodes) {
    const fwd = (status.nodes.find((n) => n.name === node.name)?.ports ?? []).map((f) => `${f.bind}:${f.host}->${f.guest}/${f.protocol}`);
    const addrs = node.interfaces.flatMap((i) => i.addresses.map((a) => `${i.name} ${a}`));
    const parts = [addrs.length ? addrs.join(', ') : undefined, fwd.length ? `ports ${fwd.join(' ')}` : undefined].filter(Boolean);
    lines.push(`  ${node.name}${parts.length ? `  ${parts.join('; ')}` : ''}`);
  }
  lines.push(`logs: ${status.runDir}/<node>.log (or topo logs ${topology.name} NODE)`);
  const captured = topology.links.filter((l) => l.capture).map((l) => l.id);
  if (captured.length) lines.push(`captures: ${status.captureDir}/{${captured.join(',')}}.pcap`);
  if (opts.detached) lines.push(`running in the background (pid ${status.pid}): topo exec ${topology.name} NODE -- CMD; topo down ${topology.name} to stop`);
  else lines.push('press Ctrl-C to stop (twice to force)');
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
