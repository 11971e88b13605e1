// Runs a scenario: boot its lab in-process (the engine of `up`), the steps in order, snapshot logs, tear down.
import { readFile } from 'node:fs/promises';
import { isTopoError } from '../errors.js';
import type { AccelRequest } from '../qemu/accel.js';
import type { SupervisorEvent } from '../api/events.js';
import { Journal } from '../runtime/journal.js';
import { type Lab } from '../runtime/lab.js';
import { up, type UpOptions } from '../control/up.js';
import { ScenarioClock } from './clock.js';
import type { Scenario, Step } from './model.js';
import type { StepOutput } from './output.js';
import { asFailure, runStep, tailText, type StepLab } from './steps.js';

export interface StepFailureInfo {
  message: string;
  expected?: string;
  got: readonly string[];
  node?: string;
  /** The node's last console lines when the step failed. */
  console: readonly string[];
}

export interface StepResult {
  index: number;
  name: string;
  kind: Step['kind'];
  status: 'passed' | 'failed' | 'skipped';
  /** Epoch ms. */
  startedAt: number;
  durationMs: number;
  failure?: StepFailureInfo;
  /** What an exec step's command printed (bounded tails), passed or failed: the evidence of the result. */
  output?: StepOutput;
}

/** One line of the runner's event log: lab events and step boundaries, with wall-clock time. */
export type JournalEntry = { time: string } & (
  | { type: 'step'; state: 'start' | 'pass' | 'fail' | 'skip'; step: number; name: string; message?: string; stdout?: string; stderr?: string }
  | SupervisorEvent
  | { type: 'scenario'; state: string; name: string; seed: number; message?: string; pausedMs?: number; lab?: string }
);

export interface ScenarioRun {
  scenario: Scenario;
  passed: boolean;
  results: StepResult[];
  startedAt: number;
  /** Running time: a pause (--pause-on-failure) is not in it. */
  durationMs: number;
  /** Time the lab stood paused after a failure (--pause-on-failure). */
  pausedMs?: number;
  /** Why the lab never became ready (or the scenario timed out before the steps). */
  error?: string;
  accel?: string;
  journal: JournalEntry[];
  /** Each node's console log as it was at the end of the steps. */
  consoleLogs: Map<string, Buffer>;
  /** Files named by `collect:`, read before teardown: `node/path` -> bytes (or the reason it could not be read). */
  collected: Map<string, Buffer | string>;
  /** pcap files of captured links, to read after teardown. */
  captures: string[];
  /** `--attach`: the running lab the steps ran on (not torn down) and what they left changed in it (unknown when it could not be asked). */
  attached?: { lab: string; changes?: string[] };
}

export interface StepHooks {
  onStepStart?: (step: Step) => void;
  onStepEnd?: (result: StepResult) => void;
  journal?: (entry: JournalEntry) => void;
}

export interface RunStepsOptions extends StepHooks {
  /** Run the remaining steps after a failure. */
  continueOnFailure?: boolean;
  /** Epoch ms when the scenario's time is up. */
  deadline: number;
  signal?: AbortSignal;
  consoleLog?: (node: string) => Promise<Buffer>;
  /** Called when a step fails, before it is reported: an attached run asks whether its lab is still there. */
  onStepFailure?: () => Promise<void>;
}

const CONSOLE_TAIL = 15;
const now = () => new Date().toISOString();

/** The steps in order against a lab; stops at the first failure unless continueOnFailure. */
export async function runSteps(lab: StepLab, steps: readonly Step[], opts: RunStepsOptions): Promise<StepResult[]> {
  const results: StepResult[] = [];
  let stop: string | undefined;
  for (const step of steps) {
    const base = { index: step.index, name: step.name, kind: step.kind };
    if (stop === undefined && Date.now() >= opts.deadline) stop = 'the scenario timeout ran out';
    if (stop === undefined && opts.signal?.aborted) stop = 'stopped';
    if (stop !== undefined) {
      results.push({ ...base, status: 'skipped', startedAt: Date.now(), durationMs: 0 });
      opts.journal?.({ time: now(), type: 'step', state: 'skip', step: step.index + 1, name: step.name, message: stop });
      opts.onStepEnd?.(results.at(-1)!);
      continue;
    }
    opts.onStepStart?.(step);
    opts.journal?.({ time: now(), type: 'step', state: 'start', step: step.index + 1, name: step.name });
    const startedAt = Date.now();
    let result: StepResult;
    try {
      const output = await runStep(lab, step, { remainingMs: () => opts.deadline - Date.now(), signal: opts.signal });
      result = { ...base, status: 'passed', startedAt, durationMs: Date.now() - startedAt, ...(output ? { output } : {}) };
    } catch (err) {
      await opts.onStepFailure?.();
      const f = asFailure(err, step);
      const consoleTail = f.node && opts.consoleLog ? tailText(await opts.consoleLog(f.node).catch(() => Buffer.alloc(0)), CONSOLE_TAIL) : [];
      result = { ...base, status: 'failed', startedAt, durationMs: Date.now() - startedAt, failure: { message: f.message, expected: f.expected, got: f.got, node: f.node, console: consoleTail }, ...(f.output ? { output: f.output } : {}) };
      if (!opts.continueOnFailure) stop = `step ${step.index + 1} failed`;
    }
    results.push(result);
    // Empty streams stay out of the line; a passing step's output is the proof a reproduction needs.
    const out = result.output;
    opts.journal?.({ time: now(), type: 'step', state: result.status === 'passed' ? 'pass' : 'fail', step: step.index + 1, name: step.name, message: result.failure?.message, ...(out?.stdout ? { stdout: out.stdout } : {}), ...(out?.stderr ? { stderr: out.stderr } : {}) });
    opts.onStepEnd?.(result);
  }
  return results;
}

export interface RunScenarioOptions extends StepHooks {
  accel?: AccelRequest;
  keep?: boolean;
  runDirBase?: string;
  /** Where pcaps of captured links go (default: as for `up`, ./captures/<lab>). */
  captureDir?: string;
  continueOnFailure?: boolean;
  /** Ctrl-C: stops booting or the running step; teardown still happens. */
  signal?: AbortSignal;
  onEvent?: (e: SupervisorEvent) => void;
  /** Called with the lab still up and the first failed step (`--pause-on-failure`); teardown waits for it. */
  onFailurePause?: (lab: Lab, failed: StepResult) => Promise<void>;
  /** Exact package versions by node (a replayed bundle's packages.lock.json). */
  layerPins?: UpOptions['layerPins'];
}

/** What every run has: its journal, an abort that the scenario timeout and the caller's signal (Ctrl-C) both fire. */
export function runControls(scenario: Scenario, opts: { journal?: (e: JournalEntry) => void; signal?: AbortSignal }) {
  const journal: JournalEntry[] = [];
  const log = (e: JournalEntry) => {
    journal.push(e);
    opts.journal?.(e);
  };
  const abort = new AbortController();
  const clock = new ScenarioClock(scenario.timeoutMs, () => abort.abort());
  const onOuter = () => abort.abort();
  opts.signal?.addEventListener('abort', onOuter, { once: true });
  /** Stops the clock and lets go of the caller's signal. */
  const finish = () => {
    clock.stop();
    opts.signal?.removeEventListener('abort', onOuter);
  };
  return { journal, log, abort, clock, finish };
}

export async function runScenario(scenario: Scenario, opts: RunScenarioOptions = {}): Promise<ScenarioRun> {
  const controls = runControls(scenario, opts);
  const { journal, abort, clock, finish } = controls;
  const startedAt = clock.startedAt;
  // Step boundaries also go beside the lab's own journal (steps.jsonl), for a run directory kept with --keep.
  let stepsLog: Journal | undefined;
  const log = (e: JournalEntry) => {
    if (e.type === 'step') stepsLog?.write(e);
    controls.log(e);
  };
  const run: ScenarioRun = { scenario, passed: false, results: [], startedAt, durationMs: 0, journal, consoleLogs: new Map(), collected: new Map(), captures: [] };
  log({ time: now(), type: 'scenario', state: 'start', name: scenario.name, seed: scenario.seed });
  let lab: Lab | undefined;
  try {
    const upOpts: UpOptions = {
      accel: opts.accel,
      keep: opts.keep,
      runDirBase: opts.runDirBase,
      captureDir: opts.captureDir,
      signal: abort.signal,
      forwardLinks: scenario.forwardLinks,
      seed: scenario.seed,
      layerPins: opts.layerPins,
      onEvent: (e) => {
        // Console lines are in the logs already; an error travels as its code and message.
        if (e.type !== 'console') log({ time: now(), ...e, ...('error' in e && e.error ? { error: { code: e.error.code, message: e.error.message } } : {}) } as JournalEntry);
        opts.onEvent?.(e);
      },
    };
    try {
      lab = await up(scenario.topology, upOpts);
    } catch (err) {
      run.error = abort.signal.aborted && !opts.signal?.aborted ? `the lab was not ready within the scenario timeout (${scenario.timeoutMs} ms)` : isTopoError(err) ? err.oneLine() : String(err);
      run.results = notRun(scenario.steps, `the lab did not start: ${run.error}`);
      for (const r of run.results) opts.onStepEnd?.(r);
      return run;
    }
    run.accel = lab.accel;
    const steps = new Journal(lab.runDir.openLogFd('steps.jsonl'));
    stepsLog = steps;
    const ready = lab;
    const consoleLog = (node: string) => readFile(ready.runDir.file(`${node}.log`));
    run.results = await runSteps(lab, scenario.steps, { ...opts, deadline: clock.deadline(), signal: abort.signal, journal: log, consoleLog });
    if (abort.signal.aborted && !opts.signal?.aborted) run.error = `the scenario timeout (${scenario.timeoutMs} ms) ran out`;
    steps.close();
    await snapshot(lab, scenario, run, consoleLog);
    const failed = run.results.find((r) => r.status === 'failed');
    if (opts.onFailurePause && !abort.signal.aborted && failed) await paused(clock, log, scenario, () => opts.onFailurePause!(ready, failed));
  } finally {
    finish();
    stepsLog?.close();
    if (lab) await lab.down();
    run.passed = run.error === undefined && run.results.every((r) => r.status === 'passed');
    run.pausedMs = clock.pausedMs() || undefined;
    run.durationMs = Date.now() - startedAt - clock.pausedMs();
    log({ time: now(), type: 'scenario', state: run.passed ? 'pass' : 'fail', name: scenario.name, seed: scenario.seed, message: run.error, ...(run.pausedMs ? { pausedMs: run.pausedMs } : {}) });
  }
  return run;
}

/** A look at the lab after a failure: the scenario's clock stands still meanwhile (its timeout is for the steps). */
async function paused(clock: ScenarioClock, log: (e: JournalEntry) => void, s: Scenario, look: () => Promise<void>): Promise<void> {
  clock.pause();
  log({ time: now(), type: 'scenario', state: 'paused', name: s.name, seed: s.seed });
  try {
    await look();
  } finally {
    clock.resume();
    log({ time: now(), type: 'scenario', state: 'resumed', name: s.name, seed: s.seed, pausedMs: clock.pausedMs() });
  }
}

/** Console logs, collected files and capture paths, taken while the lab still runs (its run dir goes at teardown). */
async function snapshot(lab: Lab, scenario: Scenario, run: ScenarioRun, consoleLog: (node: string) => Promise<Buffer>): Promise<void> {
  await collectEvidence(lab, scenario, run, consoleLog);
  run.captures = scenario.topology.links.filter((l) => l.capture).map((l) => `${lab.captureDir}/${l.id}.pcap`);
}

/** Every node's console log and the scenario's `collect:` files, read from a running lab (local or attached). */
export async function collectEvidence(lab: Pick<StepLab, 'node'>, scenario: Scenario, run: ScenarioRun, consoleLog: (node: string) => Promise<Buffer>): Promise<void> {
  for (const n of scenario.topology.nodes) run.consoleLogs.set(n.name, await consoleLog(n.name).catch(() => Buffer.alloc(0)));
  for (const c of scenario.collect) {
    const key = `${c.node}${c.path}`;
    try {
      const r = await lab.node(c.node).exec(['cat', c.path], { timeout: 30_000 });
      run.collected.set(key, r.exitCode === 0 ? r.stdout : `cannot read ${c.node}:${c.path}: exit ${r.exitCode} ${r.stderr.toString().trim()}`);
    } catch (err) {
      run.collected.set(key, `cannot read ${c.node}:${c.path}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/** The first step fails with why the lab never came up; the rest are skipped. */
export function notRun(steps: readonly Step[], reason: string): StepResult[] {
  return steps.map((s, i) => ({
    index: s.index,
    name: s.name,
    kind: s.kind,
    status: i === 0 ? 'failed' : 'skipped',
    startedAt: Date.now(),
    durationMs: 0,
    ...(i === 0 ? { failure: { message: reason, got: [], console: [] } } : {}),
  }));
}
