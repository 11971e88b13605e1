// `topo up --detach`: a background supervisor (own session, no terminal) runs the lab; this process shows its boot and returns.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, writeSync } from 'node:fs';
import path from 'node:path';
import { text as streamText } from 'node:stream/consumers';
import { TopoError } from '../errors.js';
import { LineFramer } from '../host/lines.js';
import type { SupervisorEvent } from '../api/events.js';
import { ownSignals } from '../host/signals.js';
import type { LabStatus } from '../api/status.js';
import type { ResolvedTopology } from '../topology/model.js';
import { deepFreeze } from '../topology/resolve.js';
import { errorLines, summaryLines } from '../ui/format.js';
import type { Reporter } from '../ui/plain.js';
import { runForeground, type UpFlags } from './foreground.js';

/** fd of the pipe from the background supervisor to the `up --detach` that started it. */
/** The supervisor's hand-off messages (events, the outcome) are small; this only bounds a broken child. */
const HANDOFF_LINE_BYTES = 16 * 1024 * 1024;
const HANDOFF_FD = 3;

type ErrorFields = { code: string; message: string; hint?: string; node?: string; stderrTail?: string; consoleTail?: string };
type WireEvent = Omit<SupervisorEvent, 'error'> & { error?: ErrorFields };
type Handoff = { kind: 'event'; event: WireEvent } | { kind: 'ready'; status: LabStatus } | { kind: 'failed'; error: ErrorFields };

const toError = (e: ErrorFields) => new TopoError(e.message, { code: e.code, hint: e.hint, node: e.node, stderrTail: e.stderrTail, consoleTail: e.consoleTail });

/**
 * Starts the background supervisor at once, so that its start-up (a second Node, the engine's modules) overlaps this
 * process's validation. It runs nothing until `detachUp` hands it the validated topology on its stdin; closing stdin
 * without one (bad input, this process gone) makes it exit quietly.
 */
export function startSupervisor(file: string, flags: UpFlags): ChildProcess {
  const args = [...process.execArgv, process.argv[1]!, 'up', path.resolve(file), '--supervise'];
  if (flags.accel) args.push('--accel', flags.accel);
  if (flags.keep) args.push('--keep');
  if (flags.forwardAll) args.push('--forward-all');
  if (flags.jobs) args.push('--jobs', String(flags.jobs));
  if (flags.runDir) args.push('--run-dir', path.resolve(flags.runDir));
  if (flags.captureDir) args.push('--capture-dir', path.resolve(flags.captureDir));
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'ignore', 'ignore', 'pipe'], detached: true });
  child.stdin!.on('error', () => undefined); // it died: the hand-over pipe reports that
  return child;
}

export async function detachUp(child: ChildProcess, topology: ResolvedTopology, reporter: Reporter): Promise<number> {
  // The supervisor runs exactly what this process validated: it does not read the file again.
  child.stdin!.end(JSON.stringify(topology));
  const pipe = child.stdio[HANDOFF_FD] as NodeJS.ReadableStream;
  let stopRequested = false;
  const release = ownSignals(() => {
    stopRequested = true;
    // The supervisor owns the lab: it tears down on SIGTERM (a second one forces), as a foreground `up` does on Ctrl-C.
    if (child.pid) process.kill(child.pid, 'SIGTERM');
  });
  let outcome: Handoff | undefined;
  try {
    await new Promise<void>((resolve) => {
      const lines = new LineFramer({
        max: HANDOFF_LINE_BYTES,
        onLine: (line) => {
          const msg = JSON.parse(line.toString('utf8')) as Handoff;
          if (msg.kind === 'event') reporter.handle({ ...msg.event, error: msg.event.error && toError(msg.event.error) } as SupervisorEvent);
          else outcome = msg;
          if (msg.kind === 'ready') resolve();
        },
      });
      pipe.on('data', (b: Buffer) => lines.push(b, () => outcome?.kind === 'ready'));
      pipe.on('end', () => resolve());
      pipe.on('error', () => resolve());
    });
  } finally {
    release();
  }
  await reporter.close();
  if (outcome?.kind === 'ready') {
    (pipe as unknown as { destroy(): void }).destroy();
    child.unref();
    reporter.print(summaryLines(topology, outcome.status, { detached: true }));
    return 0;
  }
  const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (c) => resolve(c))));
  if (outcome?.kind === 'failed') {
    reporter.print(errorLines(toError(outcome.error)), 'stderr');
    return 1;
  }
  if (stopRequested) return 0;
  reporter.print([`topo: error: the background supervisor exited (code ${code}) before the lab was ready`], 'stderr');
  return 1;
}

/** The whole of a stream as text (the validated topology from `up --detach`); a character cut between reads is joined. */
export function readAllText(stream: AsyncIterable<Buffer | string>): Promise<string> {
  return streamText(stream as AsyncIterable<Buffer>);
}

/** The background side: the same engine as a foreground `up`, reporting to the pipe until the lab is ready. */
export async function superviseDetached(flags: UpFlags): Promise<number> {
  const text = await readAllText(process.stdin);
  if (!text) return 0; // the `up --detach` that started us found the file invalid, or is gone
  const topology = deepFreeze(JSON.parse(text) as ResolvedTopology);
  let open = true;
  const send = (msg: Handoff) => {
    if (!open) return;
    try {
      writeSync(HANDOFF_FD, `${JSON.stringify(msg)}\n`);
    } catch {
      open = false; // the `up --detach` that started us is gone: carry on without it
    }
  };
  const hangUp = () => {
    if (!open) return;
    open = false;
    try {
      closeSync(HANDOFF_FD);
    } catch {
      // already closed
    }
  };
  const fields = (e: TopoError): ErrorFields => ({ code: e.code, message: e.message, hint: e.hint, node: e.node, stderrTail: e.stderrTail, consoleTail: e.consoleTail });
  const reporter: Reporter = {
    handle(e) {
      if (e.type === 'console') return;
      const { error, ...rest } = e as SupervisorEvent & { error?: TopoError };
      send({ kind: 'event', event: { ...rest, ...(error ? { error: fields(error) } : {}) } as WireEvent });
    },
    print() {},
    async close() {},
  };
  let failure: TopoError | undefined;
  const code = await runForeground(topology, flags, reporter, {
    onReady: (lab) => {
      send({ kind: 'ready', status: lab.snapshot() });
      hangUp();
    },
    onError: (err) => (failure ??= err),
  });
  if (open) send({ kind: 'failed', error: fields(failure ?? new TopoError('stopped before the lab was ready', { code: 'E_ABORTED' })) });
  hangUp();
  // A `topo down` waits for its reply: let the control socket flush it before this process exits.
  await new Promise((r) => setTimeout(r, 200));
  return code;
}
