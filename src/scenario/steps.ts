// One step against a lab: what it does and how it fails (what was expected, what came back).
import type { Direction } from '../api/dataplane.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { TopoError, isTopoError } from '../errors.js';
import type { ExecResult } from '../guest/agent-client.js';
import type { LinkHandle, NodeHandle } from '../api/handles.js';
import { waitForConsoleLine } from '../api/console-wait.js';
import { compilePattern } from '../topology/pattern.js';
import { reportText } from '../host/printable.js';
import { retry, WaitTimeout } from '../host/wait.js';
import { download, upload } from './copy.js';
import type { Step } from './model.js';
import { stepOutput, type StepOutput } from './output.js';

/** What a step needs from a lab: the in-process Lab and a connected RemoteLab both fit. */
export interface StepLab {
  node(name: string): NodeHandle;
  link(endpoint: string): LinkHandle;
}

/** A step that did not do what it should: the expectation and what came back, one item per line. */
export class StepFailure extends Error {
  constructor(
    message: string,
    readonly expected?: string,
    readonly got: readonly string[] = [],
    readonly node?: string,
    /** What the step's command printed (its last attempt), kept as evidence. */
    readonly output?: StepOutput,
  ) {
    super(message);
  }
}

export interface StepContext {
  /** Wall-clock ms left for the scenario: no step outlives it. */
  remainingMs: () => number;
  signal?: AbortSignal;
}

const TAIL_LINES = 10;
/** The last lines of guest text, as report text (a prompt's terminal sequences are noise in a failure report). */
export function tailText(b: Buffer | string, lines = TAIL_LINES): string[] {
  const text = reportText(b.toString().replace(/\r*\n$/, ''));
  return text === '' ? [] : text.split('\n').slice(-lines);
}

function bound(ms: number, ctx: StepContext): number {
  return Math.max(1, Math.min(ms, ctx.remainingMs()));
}

/** Race a promise against the step's time; the step fails with `what` when time runs out. */
async function within<T>(p: Promise<T>, ms: number, what: string, node?: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StepFailure(`timed out after ${ms} ms ${what}`, undefined, [], node)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function execMismatch(step: Extract<Step, { kind: 'exec' }>, r: ExecResult): StepFailure | undefined {
  const problems: string[] = [];
  if (r.timedOut) problems.push(`the command timed out after ${step.timeoutMs} ms and was killed`);
  else if (r.exitCode !== step.expect.exit) problems.push(`exit code ${r.exitCode}, expected ${step.expect.exit}`);
  for (const stream of ['stdout', 'stderr'] as const) {
    const re = step.expect[stream];
    // One trailing newline is not part of the answer (as in a shell's $(...)): `hostname` matches "^r1$".
    if (re !== undefined && !compilePattern(re).test(r[stream].toString().replace(/\r?\n$/, ''))) problems.push(`${stream} does not match /${re}/`);
  }
  if (problems.length === 0) return undefined;
  const expected = [`exit ${step.expect.exit}`, ...(['stdout', 'stderr'] as const).flatMap((s) => (step.expect[s] !== undefined ? [`${s} =~ /${step.expect[s]}/`] : []))].join(', ');
  const got = [`exit code: ${r.timedOut ? 'timed out' : r.exitCode}`, ...tailText(r.stdout).map((l) => `stdout| ${l}`), ...tailText(r.stderr).map((l) => `stderr| ${l}`)];
  return new StepFailure(problems.join('; '), expected, got, step.node, stepOutput(r));
}

async function runExec(lab: StepLab, step: Extract<Step, { kind: 'exec' }>, ctx: StepContext): Promise<StepOutput> {
  const node = lab.node(step.node);
  const attempt = async (): Promise<StepOutput | StepFailure> => {
    const r = await node.exec(step.cmd, { timeout: bound(step.timeoutMs, ctx), stdin: step.stdin, signal: ctx.signal });
    return execMismatch(step, r) ?? stepOutput(r);
  };
  if (!step.retry) {
    const once = await attempt();
    if (once instanceof StepFailure) throw once;
    return once;
  }
  // A mismatch is tried again; an error from the lab itself (node gone, abort) ends the step at once.
  let last: StepFailure | undefined;
  try {
    return await retry(async () => {
      const got = await attempt();
      if (!(got instanceof StepFailure)) return got;
      last = got;
      return undefined;
    }, { what: step.name, timeoutMs: bound(step.retry.timeoutMs, ctx), intervalMs: step.retry.intervalMs, signal: ctx.signal, retryOn: () => false });
  } catch (err) {
    if (!(err instanceof WaitTimeout) || !last) throw err;
    if (err.attempts > 1) throw new StepFailure(`${last.message} (after ${err.attempts} attempts in ${step.retry.timeoutMs} ms)`, last.expected, last.got, last.node, last.output);
    throw last;
  }
}

async function runImpair(lab: StepLab, step: Extract<Step, { kind: 'impair' }>): Promise<void> {
  // Direction is relative to the first endpoint named in the step.
  const link = lab.link(step.endpoints[0] as string);
  const opts = { direction: step.direction as Direction | undefined };
  if (step.clear) await link.clear(opts);
  else await link.impair(step.spec, opts);
}

/** A console line matching the pattern, printed from now on; Ctrl-C (or an attached lab going down) stops the wait. */
async function waitConsole(node: NodeHandle, source: string, ms: number, signal?: AbortSignal): Promise<void> {
  const stream = node.console();
  // A prompt is matched on the unfinished line too; the step's own deadline bounds the wait.
  const matched = waitForConsoleLine(stream, compilePattern(source), node.name, { partial: true });
  matched.catch(() => undefined);
  let onAbort = () => undefined as void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal?.reason);
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  const found = Promise.race([matched.then(() => undefined), aborted]);
  try {
    await within(found, ms, `waiting for a console line matching /${source}/`, node.name);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    stream.destroy();
  }
}

/** Whether /proc/net/{tcp,udp}[6] shows a socket listening (tcp state 0A) or bound (udp state 07) on the port. */
export function listening(procNet: string, port: number, udp: boolean): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return procNet.split('\n').some((line) => {
    const f = line.trim().split(/\s+/);
    return f[1]?.toUpperCase().endsWith(`:${hex}`) === true && f[3] === (udp ? '07' : '0A');
  });
}

async function waitPort(node: NodeHandle, port: number, udp: boolean, ms: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + ms;
  const proto = udp ? 'udp' : 'tcp';
  const bound = async () => {
    const r = await node.exec(`cat /proc/net/${proto} /proc/net/${proto}6 2>/dev/null; true`, { timeout: Math.max(1000, deadline - Date.now()), signal });
    return listening(r.stdout.toString(), port, udp);
  };
  try {
    await retry(bound, { what: `${proto} port ${port}`, timeoutMs: ms, intervalMs: 500, signal, retryOn: () => false });
  } catch (err) {
    if (err instanceof WaitTimeout) throw new StepFailure(`nothing listens on ${proto} port ${port} after ${ms} ms`, `a ${proto} socket on port ${port}`, [], node.name);
    throw err;
  }
}

async function runNode(lab: StepLab, step: Extract<Step, { kind: 'node' }>): Promise<void> {
  const node = lab.node(step.node);
  if (step.action === 'crash') return node.kill();
  return node[step.action]();
}

/** Runs one step (an exec's output comes back); a StepFailure (or a TopoError from the lab) says why it failed. */
export async function runStep(lab: StepLab, step: Step, ctx: StepContext): Promise<StepOutput | void> {
  const ms = bound(step.kind === 'wait' ? step.timeoutMs : step.kind === 'exec' ? Number.MAX_SAFE_INTEGER : 120_000, ctx);
  switch (step.kind) {
    case 'exec':
      return within(runExec(lab, step, ctx), bound((step.retry?.timeoutMs ?? 0) + step.timeoutMs + 5000, ctx), `running ${step.name}`, step.node);
    case 'link':
      return within(step.state === 'down' ? lab.link(step.endpoints[0] as string).down() : lab.link(step.endpoints[0] as string).up(), ms, `setting link ${step.link} ${step.state}`);
    case 'impair':
      return within(runImpair(lab, step), ms, `impairing link ${step.link}`);
    case 'wait':
      if (step.console !== undefined) return waitConsole(lab.node(step.node), step.console, ms, ctx.signal);
      return within(waitPort(lab.node(step.node), step.port as number, step.udp, ms, ctx.signal), ms + 2000, `waiting for port ${step.port}`, step.node);
    case 'node':
      return within(runNode(lab, step), ms, `${step.action} ${step.node}`, step.node);
    case 'copy':
      if ('node' in step.from && 'local' in step.to) return void (await within(download(lab.node(step.from.node), step.from.path, step.to.local, ms), ms, step.name, step.from.node));
      if ('local' in step.from && 'node' in step.to) return void (await within(upload(lab.node(step.to.node), step.from.local, step.to.path, ms), ms, step.name, step.to.node));
      throw new TopoError('copy goes between the host and a guest', { code: 'E_COPY' });
    case 'sleep': {
      if (step.ms > ctx.remainingMs()) throw new StepFailure(`sleep of ${step.ms} ms outlasts the scenario timeout`);
      await sleep(step.ms, undefined, { signal: ctx.signal });
      return;
    }
  }
}

/** A failure in words: a StepFailure as is, a lab error as its one line. */
export function asFailure(err: unknown, step: Step): StepFailure {
  if (err instanceof StepFailure) return err;
  const node = 'node' in step && typeof step.node === 'string' ? step.node : undefined;
  if (isTopoError(err)) return new StepFailure(err.message, undefined, err.hint ? [err.hint] : [], err.node ?? node);
  if (err instanceof Error && err.name === 'AbortError') return new StepFailure('stopped (scenario timeout or Ctrl-C)', undefined, [], node);
  return new StepFailure(err instanceof Error ? err.message : String(err), undefined, [], node);
}
