// `topo up FILE`: validate, boot, supervise in the foreground, tear down on Ctrl-C or failure.
import { isTopoError } from '../errors.js';
import { parseAccelRequest } from '../qemu/accel.js';
import type { SupervisorEvent } from '../runtime/events.js';
import { up, type Lab } from '../runtime/lab.js';
import { ownSignals } from '../runtime/signals.js';
import { loadTopology } from '../topology/index.js';
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
}

export async function upCommand(file: string, flags: UpFlags): Promise<number> {
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
  const topology = loaded.topology;
  const reporter = await makeReporter(flags, topology.nodes.map((n) => n.name));

  const abort = new AbortController();
  let lab: Lab | undefined;
  let stopRequested = false;
  let wake!: () => void;
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  const releaseSignals = ownSignals((force) => {
    stopRequested = true;
    if (lab) void lab.down({ force });
    else abort.abort();
    if (force) reporter.print(['topo: forcing stop (SIGKILL)'], 'stderr');
    wake();
  });

  try {
    lab = await up(topology, {
      accel: parseAccelRequest(flags.accel),
      jobs: flags.jobs,
      keep: flags.keep,
      runDirBase: flags.runDir,
      captureDir: flags.captureDir,
      signal: abort.signal,
      onEvent: (e: SupervisorEvent) => reporter.handle(e),
    });
  } catch (err) {
    await reporter.close();
    releaseSignals();
    if (stopRequested) return 0;
    reporter.print(isTopoError(err) ? errorLines(err) : [`topo: error: ${String(err)}`], 'stderr');
    return 1;
  }
  await reporter.close();
  reporter.print(summaryLines(lab));
  if (stopRequested) void lab.down();

  const outcome = await Promise.race([lab.failure.then((err) => err), stopped.then(() => undefined)]);
  if (outcome) reporter.print(errorLines(outcome), 'stderr');
  await lab.down();
  releaseSignals();
  return outcome ? 1 : 0;
}

async function makeReporter(flags: UpFlags, nodes: string[]): Promise<Reporter> {
  if (flags.json) return new JsonReporter({ follow: flags.follow });
  const interactive = process.stdout.isTTY && !process.env.CI && flags.ui !== false && !flags.follow;
  if (!interactive) return new PlainReporter({ follow: flags.follow });
  const { TaskListReporter } = await import('../ui/tasks.js');
  return new TaskListReporter(nodes);
}

