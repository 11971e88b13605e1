// Evidence a run keeps (issue 22 items 4, 7, 8): each step's output in the journal and JUnit, a pause that does not
// eat the scenario's timeout, and no terminal sequences (the prompt's ESC[6n) in the text reports.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMLParser } from 'fast-xml-parser';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { stepLines, summaryLine } from '../../src/cli/test.js';
import type { ExecResult } from '../../src/guest/agent-client.js';
import type { NodeHandle } from '../../src/api/handles.js';
import { ScenarioClock } from '../../src/scenario/clock.js';
import { junitXml } from '../../src/scenario/junit.js';
import { loadScenario } from '../../src/scenario/load.js';
import type { Scenario } from '../../src/scenario/model.js';
import { outputTail } from '../../src/host/printable.js';
import { runScenario, runSteps, type JournalEntry, type ScenarioRun } from '../../src/scenario/runner.js';
import type { StepLab } from '../../src/scenario/steps.js';
import { printable, reportText } from '../../src/host/printable.js';
import { tempDir } from '../helpers/tmp.js';

const ok = (stdout = '', exitCode = 0, stderr = ''): ExecResult => ({ exitCode, stdout: Buffer.from(stdout), stderr: Buffer.from(stderr), timedOut: false });
const execLab = (exec: (cmd: string | readonly string[]) => ExecResult): StepLab => ({
  node: (name: string) => ({ name, exec: async (cmd: string | readonly string[]) => exec(cmd) }) as unknown as NodeHandle,
  link: () => {
    throw new Error('no links here');
  },
});

async function scenario(body: string): Promise<Scenario> {
  const file = path.join(tempDir('topo-evidence-'), 's.scenario.yaml');
  writeFileSync(file, `name: evidence\n${body}`);
  const res = await loadScenario(file);
  if (!res.ok) throw new Error(res.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`).join('\n'));
  return res.scenario;
}
const TOPO = 'topology:\n  name: t\n  nodes: { a: {} }\n';
const PROMPT = '\u001b[6n~ # ';

const parseJunit = (xml: string) => new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (n) => ['testsuite', 'testcase'].includes(n) }).parse(xml).testsuites.testsuite[0];
const runOf = (s: Scenario, results: ScenarioRun['results'], consoleLog = ''): ScenarioRun => ({ scenario: s, passed: false, results, startedAt: 0, durationMs: 1, journal: [], consoleLogs: new Map([['a', Buffer.from(consoleLog)]]), collected: new Map(), captures: [] });

describe('step output is kept (passing steps too)', () => {
  it('goes into the journal and into each testcase as system-out/system-err', async () => {
    const s = await scenario(`${TOPO}steps:\n  - exec: { node: a, cmd: "ping -c1 -M do -s 8000 h2" }\n  - exec: { node: a, cmd: "false" }\n`);
    const journal: JournalEntry[] = [];
    const lab = execLab((cmd) => (cmd === 'false' ? ok('', 1, 'it broke\n') : ok('PING h2: 8000 data bytes\n1 packets transmitted, 0 received, 100% packet loss\n', 0, 'warning\n')));
    const results = await runSteps(lab, s.steps, { deadline: Date.now() + 60_000, journal: (e) => journal.push(e) });
    expect(results[0]?.output).toEqual({ stdout: 'PING h2: 8000 data bytes\n1 packets transmitted, 0 received, 100% packet loss\n', stderr: 'warning\n' });
    const pass = journal.find((e) => e.type === 'step' && e.state === 'pass');
    expect(pass).toMatchObject({ step: 1, stdout: expect.stringContaining('100% packet loss'), stderr: 'warning\n' });
    const fail = journal.find((e) => e.type === 'step' && e.state === 'fail');
    expect(fail).toMatchObject({ step: 2, stderr: 'it broke\n' });
    expect(fail).not.toHaveProperty('stdout');
    const suite = parseJunit(junitXml([runOf(s, results)]));
    expect(suite.testcase[0]['system-out']).toContain('100% packet loss');
    expect(suite.testcase[0]['system-err']).toBe('warning');
    expect(suite.testcase[1].failure.message).toBe('exit code 1, expected 0');
    expect(suite.testcase[1]['system-err']).toBe('it broke');
  });

  it('keeps a bounded tail, cut at a line, saying how much went before', () => {
    const big = Buffer.from(Array.from({ length: 2000 }, (_, i) => `line ${i}`).join('\n'));
    const tail = outputTail(big, 100);
    expect(tail).toMatch(/^\[\d+ earlier bytes not kept\]\nline \d+\n/);
    expect(tail.endsWith('line 1999')).toBe(true);
    expect(Buffer.byteLength(tail)).toBeLessThan(140);
  });
});

describe('terminal sequences stay out of text reports', () => {
  it('drops whole sequences (CSI, OSC, two-byte) and shows any other control byte', () => {
    expect(printable(`${PROMPT}ls\u001b]0;title\u0007 \u001b[1mbold\u001b[0m \u001bc\u0001`, { dropSequences: true })).toBe('~ # ls bold \\x01');
    // --follow still shows what a guest sent, sequences included.
    expect(printable(PROMPT)).toBe('\\x1b[6n~ # ');
    expect(reportText('a\r\nb\r\n')).toBe('a\nb\n');
  });

  it('failure lines, console tails and JUnit carry no ESC[6n of the prompt', async () => {
    const s = await scenario(`${TOPO}steps:\n  - exec: { node: a, cmd: "false" }\n`);
    const console = `boot\r\n${PROMPT}\r\n${PROMPT}ip link\r\n`;
    const lab = execLab(() => ok(`${PROMPT}out\n`, 1));
    const results = await runSteps(lab, s.steps, { deadline: Date.now() + 60_000, consoleLog: async () => Buffer.from(console) });
    expect(results[0]?.failure?.console).toEqual(['boot', '~ # ', '~ # ip link']);
    const text = [...stepLines(s, results[0]!), junitXml([runOf(s, results, console)])].join('\n');
    expect(text).not.toMatch(/\u001b|\\u001b|\\x1b|\[6n/);
    expect(text).toContain('~ # ip link');
  });
});

describe('a pause does not count against the scenario timeout', () => {
  afterEach(() => vi.useRealTimers());

  it('the clock stands still while paused and says how long', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const expired = vi.fn();
    const clock = new ScenarioClock(300_000, expired);
    vi.advanceTimersByTime(100_000);
    clock.pause();
    vi.advanceTimersByTime(600_000);
    expect(expired).not.toHaveBeenCalled();
    expect(clock.pausedMs()).toBe(600_000);
    clock.resume();
    vi.advanceTimersByTime(199_999);
    expect(expired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(expired).toHaveBeenCalledTimes(1);
    expect(clock.elapsedMs()).toBe(300_000);
    clock.stop();
    expect(clock.pausedMs()).toBe(600_000);
  });

  it('a lab paused after a failure outlives the scenario timeout; the run reports the pause apart', async () => {
    const fake = fileURLToPath(new URL('../fixtures/fake-qemu.mjs', import.meta.url));
    const dir = tempDir('topo-pause-');
    const saved = process.env.TOPO_QEMU;
    process.env.TOPO_QEMU = fake;
    try {
      const vm = `{ kernel: ${JSON.stringify(fake)}, host_network: false, ready: { console: "fake: ready", timeout: 10s } }`;
      const s = await scenario(`timeout: 4s\ntopology:\n  name: pausefake\n  nodes:\n    a: ${vm}\nsteps:\n  - wait: { node: a, console: never, timeout: 10ms }\n`);
      let stateAfterPause: string[] = [];
      const run = await runScenario(s, {
        runDirBase: dir,
        captureDir: dir,
        onFailurePause: async (lab) => {
          await new Promise((r) => setTimeout(r, 5000));
          stateAfterPause = (await lab.status()).nodes.map((n) => n.state);
        },
      });
      expect(stateAfterPause).toEqual(['ready']);
      expect(run.error).toBeUndefined();
      expect(run.pausedMs).toBeGreaterThanOrEqual(5000);
      expect(summaryLine(run)).toMatch(/^ {2}FAILED: 0\/1 steps in \d+\.\d s \(and \d+\.\d s paused\)$/);
      expect(run.journal.map((e) => (e.type === 'scenario' ? e.state : undefined)).filter(Boolean)).toEqual(['start', 'paused', 'resumed', 'fail']);
    } finally {
      if (saved === undefined) delete process.env.TOPO_QEMU;
      else process.env.TOPO_QEMU = saved;
    }
  }, 30_000);

  it('a kept run directory has the step boundaries beside the lab journal (steps.jsonl)', async () => {
    const fake = fileURLToPath(new URL('../fixtures/fake-qemu.mjs', import.meta.url));
    const dir = tempDir('topo-steps-');
    const saved = process.env.TOPO_QEMU;
    process.env.TOPO_QEMU = fake;
    try {
      const vm = `{ kernel: ${JSON.stringify(fake)}, host_network: false, ready: { console: "fake: ready", timeout: 10s } }`;
      const s = await scenario(`topology:\n  name: stepsfake\n  nodes:\n    a: ${vm}\nsteps:\n  - sleep: 10ms\n  - wait: { node: a, console: never, timeout: 10ms }\n`);
      const run = await runScenario(s, { runDirBase: dir, captureDir: dir, keep: true });
      expect(run.passed).toBe(false);
      const kept = readFileSync(path.join(dir, 'stepsfake', 'steps.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as JournalEntry & { step: number; state: string });
      expect(kept.map((e) => `${e.step}:${e.state}`)).toEqual(['1:start', '1:pass', '2:start', '2:fail']);
    } finally {
      if (saved === undefined) delete process.env.TOPO_QEMU;
      else process.env.TOPO_QEMU = saved;
    }
  }, 30_000);
});
