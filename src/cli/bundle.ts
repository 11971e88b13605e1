// `topo bundle [LAB] -o FILE`: a reproduction bundle of a running lab (for bugs found by hand). Its scenario is a
// first step (the lab boots and a node answers) and then the lab's journaled hand work (exec, link, impair, node
// actions, cp) as steps, so `topo test FILE` replays what was done to it.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { connect } from '../control/remote-lab.js';
import { TopoError } from '../errors.js';
import { writeBundle } from '../scenario/bundle.js';
import { rewriteFileSources } from '../scenario/bundle-layers.js';
import { loadScenario } from '../scenario/load.js';
import { handScenario } from '../scenario/recorded.js';
import type { JournalEntry, ScenarioRun } from '../scenario/runner.js';
import { formatDiagnostic } from '../topology/diagnostics.js';
import { splitLab, type LabFlags } from './lab-args.js';

export async function bundleCommand(words: string[], flags: LabFlags & { output?: string }): Promise<number> {
  const { lab } = splitLab(words, 0, '[LAB] -o FILE');
  if (!flags.output) throw new TopoError('say where the bundle goes: -o FILE.tar.gz', { code: 'E_USAGE' });
  const remote = await connect(lab, { runDirBase: flags.runDir });
  const stage = await mkdtemp(path.join(os.tmpdir(), 'topo-handbundle-'));
  try {
    const status = await remote.status();
    const first = status.nodes[0]?.name ?? 'a';
    // The copy lives in the stage: its files: sources are named absolutely, and writeBundle takes them in.
    const { text } = rewriteFileSources(await readFile(status.file, 'utf8'), path.dirname(status.file), (abs) => abs);
    await writeFile(path.join(stage, 'topology.yaml'), text);
    const events = await readFile(path.join(status.runDir, 'events.jsonl'), 'utf8').catch(() => '');
    const journal = events.split('\n').flatMap((l) => {
      try {
        return l.trim() === '' ? [] : [JSON.parse(l) as JournalEntry];
      } catch {
        return [];
      }
    });
    const hand = handScenario(journal, { name: status.lab, seed: status.seed, firstNode: first });
    // Files uploaded by hand sit beside the scenario: the bundle takes them in, and its copy steps read them.
    for (const f of hand.files) {
      await mkdir(path.dirname(path.join(stage, f)), { recursive: true });
      await writeFile(path.join(stage, f), await readFile(path.join(status.runDir, f)));
    }
    await writeFile(path.join(stage, 'scenario.yaml'), hand.text);
    const loaded = await loadScenario(path.join(stage, 'scenario.yaml'));
    if (!loaded.ok) throw new TopoError(`the recorded scenario does not validate: ${formatDiagnostic(loaded.diagnostics[0]!)}`, { code: 'E_BUNDLE' });
    const consoleLogs = new Map<string, Buffer>();
    for (const n of status.nodes) consoleLogs.set(n.name, await readFile(path.join(status.runDir, `${n.name}.log`)).catch(() => Buffer.alloc(0)));
    const run: ScenarioRun = {
      scenario: loaded.scenario,
      passed: true,
      results: [],
      startedAt: Date.parse(status.startedAt),
      durationMs: status.uptimeMs,
      accel: status.accel,
      journal,
      consoleLogs,
      collected: new Map(),
      captures: loaded.scenario.topology.links.filter((l) => l.capture).map((l) => path.join(status.captureDir, `${l.id}.pcap`)),
    };
    const file = await writeBundle(run, path.dirname(flags.output), { file: flags.output });
    process.stdout.write(`${file}\n`);
    return 0;
  } finally {
    await rm(stage, { recursive: true, force: true });
    await remote.close();
  }
}
