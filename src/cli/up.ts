// `topo up FILE`: validate, boot, supervise in the foreground (or hand over to a background supervisor with --detach).
import { isTopoError, TopoError } from '../errors.js';
import { parseAccelRequest } from '../qemu/accel.js';
import type { SupervisorEvent } from '../runtime/events.js';
import { up, type Lab } from '../runtime/lab.js';
import { ownSignals } from '../runtime/signals.js';
import { loadTopology } from '../topology/index.js';
import type { ResolvedTopology } from '../topology/model.js';
import { errorLines, summaryLines } from '../ui/format.js';
import { JsonReporter, PlainReporter, type Reporter } from '../ui/plain.js';
import { formatDiagnostic } from '../topology/diagnostics.js';

export interface UpFlags {
  accel?: string;
  ui?: boolean;
  json?: boolean;
  follow?: boolean;
  keep?: boolean;
  jobs?: number;
  runDir?: string;
  captureDir?: string;
  detach?: boolean;
  forwardAll?: boolean;
  /** Internal: this process is the background supervisor of `up --detach` (topology on stdin, events to fd 3). */
  supervise?: boolean;
}

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

export interface ForegroundHooks {
  /** Replaces the summary: called once every node is ready. */
  onReady?: (lab: Lab) => void;
  /** Every failure that ends the lab, before it is printed. */
  onError?: (err: TopoError) => void;
}

export async function runForeground(topology: ResolvedTopology, flags: UpFlags, reporter: Reporter, hooks: ForegroundHooks = {}): Promise<number> {
  const abort = new AbortController();
  const force = new AbortController();
  let lab: Lab | undefined;
  let stopRequested = false;
  let wake!: () => void;
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  const releaseSignals = ownSignals((forced) => {
    stopRequested = true;
    if (lab) void lab.down({ force: forced });
    else if (forced) force.abort();
    else abort.abort();
    if (forced) reporter.print(['topo: forcing stop (SIGKILL)'], 'stderr');
    wake();
  });

  try {
    lab = await up(topology, {
      accel: parseAccelRequest(flags.accel),
      jobs: flags.jobs,
      keep: flags.keep,
      runDirBase: flags.runDir,
      captureDir: flags.captureDir,
      forwardAll: flags.forwardAll,
      signal: abort.signal,
      forceSignal: force.signal,
      onEvent: (e: SupervisorEvent) => reporter.handle(e),
    });
  } catch (err) {
    await reporter.close();
    releaseSignals();
    if (stopRequested) return 0;
    const error = isTopoError(err) ? err : new TopoError(String(err), { code: 'E_INTERNAL', cause: err });
    hooks.onError?.(error);
    reporter.print(errorLines(error), 'stderr');
    return 1;
  }
  await reporter.close();
  if (hooks.onReady) hooks.onReady(lab);
  else reporter.print(summaryLines(topology, lab.status()));
  if (stopRequested) void lab.down();

  const outcome = await Promise.race([lab.failure.then((err: TopoError) => err), stopped.then(() => undefined), lab.stopped.then(() => undefined)]);
  if (outcome) {
    hooks.onError?.(outcome);
    reporter.print(errorLines(outcome), 'stderr');
  }
  await lab.down();
  releaseSignals();
  return outcome ? 1 : 0;
}

export async function makeReporter(flags: UpFlags, nodes: string[]): Promise<Reporter> {
  if (flags.json) return new JsonReporter({ follow: flags.follow });
  const interactive = process.stdout.isTTY && !process.env.CI && flags.ui !== false && !flags.follow;
  if (!interactive) return new PlainReporter({ follow: flags.follow });
  const { TaskListReporter } = await import('../ui/tasks.js');
  return new TaskListReporter(nodes);
}
