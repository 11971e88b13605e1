// `topo up FILE`: validate, boot, supervise in the foreground (or hand over to a background supervisor with --detach).
import { isTopoError } from '../errors.js';
import { loadTopology } from '../topology/index.js';
import type { ResolvedTopology } from '../topology/model.js';
import { JsonReporter, PlainReporter, type Reporter } from '../ui/plain.js';
import { runForeground, type UpFlags } from './foreground.js';
import { formatDiagnostic } from '../topology/diagnostics.js';

export async function loadForUp(file: string): Promise<ResolvedTopology | number> {
  let loaded;
  try {
    loaded = await loadTopology(file);
  } catch (err) {
    if (isTopoError(err)) {
      process.stderr.write(`${err.oneLine()}\n`);
      return 2;
    }
    throw err;
  }
  if (!loaded.ok) {
    for (const d of loaded.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
    return 1;
  }
  return loaded.topology;
}

export async function upCommand(file: string, flags: UpFlags): Promise<number> {
  if (flags.supervise) return (await import('./detach.js')).superviseDetached(flags);
  const detach = flags.detach ? await import('./detach.js') : undefined;
  const supervisor = detach?.startSupervisor(file, flags);
  const topology = await loadForUp(file);
  if (typeof topology === 'number') {
    supervisor?.stdin!.end();
    return topology;
  }
  if (detach && supervisor) return detach.detachUp(supervisor, topology, await makeReporter(flags, topology.nodes.map((n) => n.name)));
  const reporter = await makeReporter(flags, topology.nodes.map((n) => n.name));
  return runForeground(topology, flags, reporter);
}

export async function makeReporter(flags: UpFlags, nodes: string[]): Promise<Reporter> {
  if (flags.json) return new JsonReporter({ follow: flags.follow });
  const interactive = process.stdout.isTTY && !process.env.CI && flags.ui !== false && !flags.follow;
  if (!interactive) return new PlainReporter({ follow: flags.follow });
  const { TaskListReporter } = await import('../ui/tasks.js');
  return new TaskListReporter(nodes);
}
