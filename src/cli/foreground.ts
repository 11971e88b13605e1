// The foreground life of a lab: boot, summary, wait for a failure or a stop, tear down. `up` and the background supervisor of `up --detach` both run it.
import { isTopoError, TopoError } from '../errors.js';
import { parseAccelRequest } from '../qemu/accel.js';
import type { SupervisorEvent } from '../api/events.js';
import { type Lab } from '../runtime/lab.js';
import { up } from '../control/up.js';
import { ownSignals } from '../host/signals.js';
import type { ResolvedTopology } from '../topology/model.js';
import { errorLines, summaryLines } from '../ui/format.js';
import type { Reporter } from '../ui/plain.js';

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
  else reporter.print(summaryLines(topology, lab.snapshot()));
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
