// `topo test FILE... [--junit OUT.xml] [--keep] [--bundle DIR] [--continue] [--seed N] [--pause-on-failure] [--attach LAB]`:
// every file is validated first (exit 2 before any VM starts), then each scenario runs on its own lab (or on LAB).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isTopoError, TopoError } from '../errors.js';
import { parseAccelRequest } from '../qemu/accel.js';
import type { Lab } from '../runtime/lab.js';
import { ownSignals } from '../host/signals.js';
import { isBundlePath, openBundle, writeBundle, type OpenedBundle } from '../scenario/bundle.js';
import { junitXml } from '../scenario/junit.js';
import { loadScenario } from '../scenario/load.js';
import { stepNode, type Scenario } from '../scenario/model.js';
import { runScenario, type ScenarioRun, type StepResult } from '../scenario/runner.js';
import { loadLabFile } from '../control/lab-file.js';
import { runAttached } from '../scenario/attach.js';
import { attachedNotice, attachPreflight, attachUsage } from './test-attach.js';
import { formatDiagnostic, oneLine } from '../topology/diagnostics.js';
import { seconds } from '../ui/format.js';

export interface TestFlags {
  junit?: string;
  keep?: boolean;
  bundle?: string;
  continue?: boolean;
  seed?: number;
  accel?: string;
  runDir?: string;
  pauseOnFailure?: boolean;
  /** Run the steps on this running lab instead of booting one (`--attach LAB`). */
  attach?: string;
  /** The lab file of a lab spread over runners: attach to its lab (`--lab-file FILE`, with or without --attach). */
  labFile?: string;
  /** false with --no-ui: plain lines even on a terminal. */
  ui?: boolean;
}

/** Where bundles of failed runs go when --bundle is not given. */
export const DEFAULT_BUNDLE_DIR = 'topo-bundles';

/** Exit code after Ctrl-C (128 + SIGINT), as shells report it. */
const STOPPED = 130;

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${oneLine(line)}\n`);

export function stepLines(s: Scenario, r: StepResult): string[] {
  const mark = r.status === 'passed' ? 'PASS' : r.status === 'failed' ? 'FAIL' : 'SKIP';
  const lines = [`  ${mark}  ${r.index + 1}. ${oneLine(r.name)}${r.status === 'skipped' ? '' : ` (${seconds(r.durationMs)})`}`];
  const f = r.failure;
  if (!f) return lines;
  const step = s.steps[r.index];
  lines.push(`        step ${r.index + 1} at ${s.shownFile ?? shortPath(s.file)}:${step?.line ?? 1}: ${oneLine(f.message)}`);
  if (f.expected) lines.push(`        expected: ${oneLine(f.expected)}`);
  for (const g of f.got) lines.push(`        ${oneLine(g)}`);
  if (f.console.length > 0) lines.push(`        last console lines of ${f.node}:`, ...f.console.map((c) => `          ${oneLine(c)}`));
  return lines;
}

function shortPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel === '' || rel.startsWith('..') ? file : rel;
}

interface Loaded {
  scenario: Scenario;
  bundle?: OpenedBundle;
}

/** A replay's messages name the bundle and its member (BUNDLE.tar.gz:scenario.yaml), never the temporary directory. */
export function bundleNames(file: string, dir: string): (text: string) => string {
  return (text) => text.split(`${dir}/`).join(`${file}:`).split(dir).join(file);
}

async function loadAll(files: string[], flags: TestFlags, signal: AbortSignal): Promise<Loaded[] | number> {
  const loaded: Loaded[] = [];
  let code = 0;
  for (const file of files) {
    let bundle: OpenedBundle | undefined;
    try {
      if (isBundlePath(file)) bundle = await openBundle(file, { signal });
      const seed = flags.seed ?? bundle?.manifest.seed;
      const res = await loadScenario(bundle?.scenarioFile ?? file, { seed, confine: bundle?.dir });
      const shown = bundle ? bundleNames(file, bundle.dir) : (t: string) => t;
      if (!res.ok) {
        for (const d of res.diagnostics) err(shown(formatDiagnostic(bundle ? { ...d, file: `${file}:${path.relative(bundle.dir, d.file)}` } : d)));
        code = 2;
        await bundle?.close();
        continue;
      }
      loaded.push({ scenario: bundle ? { ...res.scenario, shownFile: `${file}:scenario.yaml` } : res.scenario, bundle });
    } catch (e) {
      await bundle?.close();
      if (!isTopoError(e)) throw e;
      if (e.code === 'E_INTERRUPTED') {
        for (const l of loaded) await l.bundle?.close();
        err(`topo: ${e.oneLine()}`);
        return STOPPED;
      }
      err(`topo: ${e.code === 'E_READ' ? `${file}: ` : ''}${bundle ? bundleNames(file, bundle.dir)(e.oneLine()) : e.oneLine()}`);
      code = 2;
    }
  }
  if (code !== 0) {
    for (const l of loaded) await l.bundle?.close();
    return code;
  }
  return loaded;
}

export async function testCommand(files: string[], given: TestFlags): Promise<number> {
  // --lab-file alone attaches to the lab it names.
  const flags = given.labFile !== undefined && given.attach === undefined ? { ...given, attach: (await loadLabFile(given.labFile)).lab } : given;
  const accel = parseAccelRequest(flags.accel);
  const usage = attachUsage(files, flags);
  if (usage !== undefined) return usage;
  const abort = new AbortController();
  let resume: (() => void) | undefined;
  // Owned from the start: Ctrl-C while a bundle unpacks removes what it unpacked.
  const release = ownSignals(() => {
    if (resume) return resume();
    abort.abort();
  });
  let loaded: Loaded[] | number;
  try {
    loaded = await loadAll(files, flags, abort.signal);
  } catch (e) {
    release();
    throw e;
  }
  if (typeof loaded === 'number' || abort.signal.aborted) {
    release();
    if (typeof loaded === 'number') return loaded;
    for (const l of loaded) await l.bundle?.close();
    return STOPPED;
  }
  if (flags.attach !== undefined) {
    let checked: Awaited<ReturnType<typeof attachPreflight>>;
    try {
      checked = await attachPreflight(loaded.map((l) => l.scenario), flags, (s) => shortPath(s.file));
    } catch (e) {
      release();
      throw e;
    }
    if (typeof checked === 'number') return (release(), checked);
    loaded = checked.map((scenario) => ({ scenario }));
  }
  const runs: ScenarioRun[] = [];
  try {
    for (const { scenario, bundle } of loaded) {
      if (abort.signal.aborted) break;
      const bundleFile = files[loaded.findIndex((l) => l.scenario === scenario)] ?? '';
      const label = bundle ? `replaying ${path.basename(bundleFile)}` : `${shortPath(scenario.file)}${flags.attach !== undefined ? ` on lab ${flags.attach}` : ''}`;
      const shown = bundle ? bundleNames(bundleFile, bundle.dir) : (t: string) => t;
      out(`${scenario.name} (${label}, seed ${scenario.seed}, ${scenario.steps.length} steps)`);
      const list = interactive(flags) ? new (await import('./step-list.js')).StepListReporter(scenario) : undefined;
      const notices: string[] = [];
      const settled = async () => {
        if (!list) return;
        await list.close();
        notices.splice(0).forEach(err);
      };
      // Pcaps go into the bundle; only --keep leaves them in ./captures as `up` does.
      const captureDir = flags.keep || flags.attach !== undefined ? undefined : await mkdtemp(path.join(os.tmpdir(), 'topo-test-captures-'));
      const hooks = {
        continueOnFailure: flags.continue,
        signal: abort.signal,
        onStepStart: () => list?.stepStart(),
        onStepEnd: (r: StepResult) => (list ? list.stepEnd(r) : stepLines(scenario, r).map(shown).forEach(out)),
      };
      const run = flags.attach !== undefined ? await runAttached(scenario, flags.attach, { ...hooks, runDirBase: flags.runDir, labFile: flags.labFile }) : await runScenario(scenario, {
        ...hooks,
        accel,
        captureDir,
        keep: flags.keep,
        runDirBase: flags.runDir,
        layerPins: bundle?.layerPins,
        onEvent: (e) => {
          // A line printed while the list draws would tear it: notices wait for its end.
          if (e.type === 'notice') (list ? notices.push(`  ${e.message}`) : err(`  ${e.message}`));
        },
        onFailurePause: flags.pauseOnFailure
          ? async (lab, failed) => {
              await settled();
              return pause(lab, stepNode(scenario.steps[failed.index]!) ?? lab.topology.nodes[0]?.name ?? 'NODE', (fn) => (resume = fn));
            }
          : undefined,
      });
      await settled();
      // The list shows pass/fail; the details of a failure follow it in full.
      if (list) for (const r of run.results) if (r.failure) stepLines(scenario, r).slice(1).map(shown).forEach(out);
      resume = undefined;
      runs.push(run);
      if (run.error) err(shown(`  ${run.error}`));
      out(summaryLine(run));
      attachedNotice(run).forEach(err);
      if (flags.bundle || !run.passed) {
        try {
          out(`  bundle: ${await writeBundle(run, flags.bundle ?? DEFAULT_BUNDLE_DIR)} (replay: topo test BUNDLE)`);
        } catch (e) {
          err(`  topo: could not write the bundle: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      await bundle?.close();
      if (captureDir) await rm(captureDir, { recursive: true, force: true });
    }
  } finally {
    release();
    for (const l of loaded) await l.bundle?.close();
  }
  if (flags.junit) {
    try {
      await writeFile(flags.junit, junitXml(runs));
    } catch (e) {
      throw new TopoError(`cannot write ${flags.junit}: ${(e as Error).message}`, { code: 'E_WRITE' });
    }
  }
  return runs.length === loaded.length && runs.every((r) => r.passed) ? 0 : 1;
}

/** The run's last line; time paused after a failure is named apart (it is not in the run's time nor its timeout). */
export function summaryLine(run: ScenarioRun): string {
  const passed = run.results.filter((r) => r.status === 'passed').length;
  const pause = run.pausedMs ? ` (and ${seconds(run.pausedMs)} paused)` : '';
  return `  ${run.passed ? 'passed' : 'FAILED'}: ${passed}/${run.results.length} steps in ${seconds(run.durationMs)}${pause}`;
}

function interactive(flags: TestFlags): boolean {
  return process.stdout.isTTY === true && !process.env.CI && flags.ui !== false;
}

/** `--pause-on-failure`: the lab stays up for a look (at the failed step's node) until Ctrl-C. */
function pause(lab: Lab, node: string, onResume: (fn: () => void) => void): Promise<void> {
  [
    `  paused with lab ${lab.name} running; look at it from another terminal:`,
    `    topo exec ${lab.name} ${node} -- sh     (a command in a node)`,
    `    topo console ${lab.name} ${node}        (its serial console; Ctrl-] leaves)`,
    `    topo logs ${lab.name} ${node}           (what its console printed)`,
    '  Ctrl-C tears it down.',
  ].forEach(out);
  return new Promise((resolve) => onResume(resolve));
}
