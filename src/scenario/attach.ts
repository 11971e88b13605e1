// `topo test FILE --attach LAB`: a scenario's steps on a lab that already runs (a detached or foreground `topo up`),
// reached through its control socket; nothing is booted, and the lab is left running as the steps left it.
import path from 'node:path';
import type { LabStatus } from '../api/status.js';
import { connect, type LabClient } from '../control/remote-lab.js';
import { loadLabFile } from '../control/lab-file.js';
import { openSpreadLab } from '../control/spread-lab.js';
import { isTopoError, TopoError } from '../errors.js';
import { labChanges, labState, topologyMismatch } from './attach-check.js';
import type { Scenario } from './model.js';
import { collectEvidence, notRun, runControls, runSteps, type ScenarioRun, type StepHooks, type StepResult } from './runner.js';

export const ATTACH_MISMATCH = 'E_ATTACH_MISMATCH';

/** Where the lab to attach to is: this host's run directories, or a lab file (a lab spread over runners). */
export interface AttachWhere {
  runDirBase?: string;
  labFile?: string;
}

/** The lab a lab file names, over its runners; its name must be `name`. */
async function openLabFile(name: string, labFile: string): Promise<LabClient> {
  const file = await loadLabFile(labFile);
  if (file.lab !== name) throw new TopoError(`the lab file ${labFile} is of lab ${file.lab}, not ${name}`, { code: 'E_USAGE', hint: 'drop --attach (the lab file names the lab), or give the matching lab file' });
  return openSpreadLab(file);
}

/** The running lab, or one line naming it and how to list labs (E_NO_LAB), or saying it is not ready yet. */
export async function attachLab(name: string, where: AttachWhere = {}): Promise<{ lab: LabClient; status: LabStatus }> {
  let lab: LabClient;
  try {
    lab = where.labFile !== undefined ? await openLabFile(name, where.labFile) : await connect(name, { runDirBase: where.runDirBase });
  } catch (e) {
    if (!isTopoError(e) || (e.code !== 'E_NO_LAB' && e.code !== 'E_NOT_RUNNING')) throw e;
    throw new TopoError(`cannot attach to lab ${name} (E_NO_LAB): ${e.message}`, { code: 'E_NO_LAB', hint: e.code === 'E_NOT_RUNNING' && e.hint ? e.hint : 'list running labs with `topo ps`' });
  }
  const status = await lab.status();
  if (status.state !== 'ready') {
    lab.close();
    throw new TopoError(`cannot attach to lab ${name} (E_NOT_READY): it is ${status.state}`, { code: 'E_NOT_READY', hint: 'wait until `topo ps` shows it ready' });
  }
  return { lab, status };
}

/** The lab cannot run these steps: one line (E_ATTACH_MISMATCH) listing every difference; undefined when it can. */
export function mismatchError(scenario: Scenario, status: LabStatus, shownFile: string): TopoError | undefined {
  const problems = topologyMismatch(scenario, status);
  if (problems.length === 0) return undefined;
  const rel = scenario.topologyFile && path.relative(process.cwd(), scenario.topologyFile);
  const file = rel && !rel.startsWith('..') ? rel : scenario.topologyFile;
  const start = file ? `start it with \`topo up --detach ${file}\`` : 'start a lab of its inline topology';
  return new TopoError(`lab ${status.lab} does not run the topology of ${shownFile} (${ATTACH_MISMATCH}): ${problems.join('; ')}`, {
    code: ATTACH_MISMATCH,
    hint: `${start}, or run the scenario without --attach`,
  });
}

export interface AttachRunOptions extends StepHooks {
  /** Parent of run directories, where the lab is found (as for `topo ps`). */
  runDirBase?: string;
  /** The lab file of a lab spread over runners (instead of a lab of this host). */
  labFile?: string;
  continueOnFailure?: boolean;
  /** Ctrl-C: stops the running step; the lab stays up. */
  signal?: AbortSignal;
}

const now = () => new Date().toISOString();

/** What a node's console printed so far, through the control socket. */
async function readLog(lab: LabClient, node: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await lab.open({ op: 'logs', node })) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Run the steps on the running lab `labName`; it is never torn down. The run's `attached.changes` says what the steps left changed. */
export async function runAttached(scenario: Scenario, labName: string, opts: AttachRunOptions = {}): Promise<ScenarioRun> {
  const { journal, log, abort, clock, finish } = runControls(scenario, opts);
  const attached: { lab: string; changes?: string[] } = { lab: labName };
  const run: ScenarioRun = { scenario, passed: false, results: [], startedAt: clock.startedAt, durationMs: 0, journal, consoleLogs: new Map(), collected: new Map(), captures: [], attached };
  const start = (seed: number) => log({ time: now(), type: 'scenario', state: 'start', name: scenario.name, seed, lab: labName });
  let lab: LabClient | undefined;
  let finished = false;
  let wentDown = false;
  const downLine = `lab ${labName} went down during the run (\`topo ps\` lists running labs)`;
  try {
    let status: LabStatus;
    try {
      ({ lab, status } = await attachLab(labName, opts));
      const mismatch = mismatchError(scenario, status, scenario.shownFile ?? scenario.file);
      if (mismatch) throw mismatch;
    } catch (err) {
      start(scenario.seed);
      run.error = isTopoError(err) ? err.oneLine() : String(err);
      run.results = notRun(scenario.steps, `could not attach: ${run.error}`);
      for (const r of run.results) opts.onStepEnd?.(r);
      return run;
    }
    // The lab's impairments draw from the seed it started with: that is this run's seed (and its bundle's).
    run.scenario = { ...scenario, seed: status.seed };
    start(status.seed);
    // The lab closing our connection (down, or its supervisor gone) ends the run at once. No step closes it: an
    // aborted exec drops a connection of its own.
    const theLab = lab;
    theLab.onDisconnect(() => {
      if (finished) return;
      wentDown = true;
      abort.abort();
    });
    const before = labState(status, await theLab.impairments());
    run.accel = status.accel;
    const consoleLog = (node: string) => readLog(theLab, node);
    // The step the lab's going down cut short says so before it is shown.
    const onStepEnd = (r: StepResult) => opts.onStepEnd?.(wentDown ? cutShort(r, downLine) : r);
    // A failed step may be the lab going down (its console stream closed first): asking the lab says.
    const onStepFailure = async () => {
      if (wentDown) return;
      const now = await theLab.status().catch(() => undefined);
      if (now?.state !== 'ready' && now?.state !== 'starting') wentDown = true;
    };
    run.results = await runSteps(theLab, scenario.steps, { ...opts, onStepEnd, onStepFailure, deadline: clock.deadline(), signal: abort.signal, journal: log, consoleLog });
    if (wentDown) {
      wentDownResults(run, downLine);
      return run;
    }
    if (abort.signal.aborted && !opts.signal?.aborted) run.error = `the scenario timeout (${scenario.timeoutMs} ms) ran out`;
    await snapshot(theLab, status, scenario, run, consoleLog);
    attached.changes = labChanges(before, labState(await theLab.status(), await theLab.impairments()));
  } catch (err) {
    if (wentDown) wentDownResults(run, downLine);
    else run.error ??= isTopoError(err) ? err.oneLine() : String(err);
    if (run.results.length === 0) {
      run.results = notRun(scenario.steps, run.error!);
      for (const r of run.results) opts.onStepEnd?.(r);
    }
  } finally {
    finished = true;
    lab?.close();
    finish();
    run.passed = run.error === undefined && run.results.every((r) => r.status === 'passed');
    run.durationMs = Date.now() - run.startedAt;
    log({ time: now(), type: 'scenario', state: run.passed ? 'pass' : 'fail', name: scenario.name, seed: run.scenario.seed, message: run.error, lab: labName });
  }
  return run;
}

/** A step stopped by the lab's going down fails with that reason (not "stopped", nor a closed connection). */
function cutShort(r: StepResult, line: string): StepResult {
  const m = r.failure?.message ?? '';
  if (r.failure && (m.startsWith('stopped') || m.endsWith('control connection closed') || m.endsWith('closed the console stream'))) r.failure = { ...r.failure, message: line };
  return r;
}

/** The run failed because the lab went away: it says so, and so does the step it cut short. */
function wentDownResults(run: ScenarioRun, line: string): void {
  run.error = line;
  for (const r of run.results) cutShort(r, line);
}

/** Console logs, collected files and capture paths, while the lab runs (it keeps running: its pcaps are still being written). */
async function snapshot(lab: LabClient, status: LabStatus, scenario: Scenario, run: ScenarioRun, consoleLog: (node: string) => Promise<Buffer>): Promise<void> {
  await collectEvidence(lab, scenario, run, consoleLog);
  // The lab's link ids may differ from the file's (they follow its order): its captures are found by endpoints.
  const key = (eps: readonly string[]) => [...eps].sort().join(' ');
  const labIds = new Map(status.links.map((l) => [key(l.endpoints), l.id]));
  run.captures = scenario.topology.links
    .filter((l) => l.capture)
    .flatMap((l) => labIds.get(key(l.endpoints.map((e) => `${e.node}:${e.iface}`))) ?? [])
    .map((id) => `${status.captureDir}/${id}.pcap`);
}
