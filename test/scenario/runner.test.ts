// The step runner against a fake lab: expectations, retries, stop/continue, timeouts, JUnit output parsed back.
import { PassThrough } from 'node:stream';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import type { ExecResult } from '../../src/guest/agent-client.js';
import type { LinkHandle, NodeHandle } from '../../src/api/handles.js';
import { junitXml, xmlEscape } from '../../src/scenario/junit.js';
import { loadScenario } from '../../src/scenario/load.js';
import type { Scenario } from '../../src/scenario/model.js';
import { runSteps, type ScenarioRun } from '../../src/scenario/runner.js';
import { listening, type StepLab } from '../../src/scenario/steps.js';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/tmp.js';

type Exec = (cmd: string | readonly string[]) => ExecResult | Promise<ExecResult>;
const ok = (stdout = '', exitCode = 0, stderr = ''): ExecResult => ({ exitCode, stdout: Buffer.from(stdout), stderr: Buffer.from(stderr), timedOut: false });

function fakeLab(exec: Exec, calls: string[] = []): StepLab & { consoles: Map<string, PassThrough> } {
  const consoles = new Map<string, PassThrough>();
  return {
    consoles,
    node: (name: string): NodeHandle => ({
      name,
      exec: async (cmd) => {
        calls.push(`${name}: ${typeof cmd === 'string' ? cmd : cmd.join(' ')}`);
        return exec(cmd);
      },
      console: () => {
        const s = new PassThrough();
        consoles.set(name, s);
        return s as never;
      },
      waitForConsole: async () => '',
      channel: () => new PassThrough() as never,
      restart: async () => void calls.push(`restart ${name}`),
      kill: async () => void calls.push(`kill ${name}`),
      stop: async () => void calls.push(`stop ${name}`),
      start: async () => void calls.push(`start ${name}`),
    }),
    link: (ep: string): LinkHandle => ({
      id: ep,
      down: async () => void calls.push(`down ${ep}`),
      up: async () => void calls.push(`up ${ep}`),
      impair: async (spec) => (calls.push(`impair ${ep} ${JSON.stringify(spec)}`), []),
      clear: async () => (calls.push(`clear ${ep}`), []),
      capture: () => new PassThrough(),
    }),
  };
}

async function scenario(steps: string, extra = ''): Promise<Scenario> {
  const dir = tempDir('topo-run-');
  const file = path.join(dir, 's.scenario.yaml');
  writeFileSync(file, `name: fake\n${extra}topology:\n  name: t\n  nodes: { a: {}, b: {} }\n  links: [{ endpoints: [a:eth1, b:eth1] }]\nsteps:\n${steps}`);
  const res = await loadScenario(file);
  if (!res.ok) throw new Error(res.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`).join('\n'));
  return res.scenario;
}

const later = () => Date.now() + 60_000;

describe('runSteps', () => {
  it('passes steps whose expectations hold, in order', async () => {
    const calls: string[] = [];
    const s = await scenario('  - exec: { node: a, cmd: hostname, expect: { stdout: "^a\\\\s*$" } }\n  - link: { endpoints: [a:eth1], state: down }\n  - node: { name: b, action: restart }\n');
    const results = await runSteps(fakeLab(() => ok('a\n'), calls), s.steps, { deadline: later() });
    expect(results.map((r) => r.status)).toEqual(['passed', 'passed', 'passed']);
    expect(calls).toEqual(['a: hostname', 'down a:eth1', 'restart b']);
  });

  it('stops at the first failure and says what was expected and what came back, with the console tail', async () => {
    const s = await scenario('  - exec: { node: a, cmd: "false" }\n  - sleep: 1ms\n');
    const results = await runSteps(fakeLab(() => ok('out line\n', 1, 'bad thing\n')), s.steps, { deadline: later(), consoleLog: async () => Buffer.from('boot\r\nlast console line\r\n') });
    expect(results.map((r) => r.status)).toEqual(['failed', 'skipped']);
    expect(results[0]?.failure).toEqual({
      message: 'exit code 1, expected 0',
      expected: 'exit 0',
      got: ['exit code: 1', 'stdout| out line', 'stderr| bad thing'],
      node: 'a',
      console: ['boot', 'last console line'],
    });
  });

  it('runs the rest after a failure with continueOnFailure', async () => {
    const s = await scenario('  - exec: { node: a, cmd: "false" }\n  - exec: { node: a, cmd: "true" }\n');
    const results = await runSteps(fakeLab((cmd) => ok('', cmd === 'false' ? 1 : 0)), s.steps, { deadline: later(), continueOnFailure: true });
    expect(results.map((r) => r.status)).toEqual(['failed', 'passed']);
  });

  it('retries until the expectation holds', async () => {
    let n = 0;
    const s = await scenario('  - exec: { node: a, cmd: ping, retry: { timeout: 5s, interval: 1ms } }\n');
    const results = await runSteps(fakeLab(() => ok('', ++n < 3 ? 1 : 0)), s.steps, { deadline: later() });
    expect(results[0]?.status).toBe('passed');
    expect(n).toBe(3);
  });

  it('a retry that never holds fails with the last mismatch and the number of attempts', async () => {
    let n = 0;
    const s = await scenario('  - exec: { node: a, cmd: ping, retry: { timeout: 60ms, interval: 5ms } }\n');
    const results = await runSteps(fakeLab(() => (n++, ok('', 1))), s.steps, { deadline: later() });
    expect(n).toBeGreaterThan(1);
    expect(results[0]?.failure?.message).toBe(`exit code 1, expected 0 (after ${n} attempts in 60 ms)`);
  });

  it('a lab error during a retry ends the step at once (it is not a mismatch to try again)', async () => {
    let n = 0;
    const s = await scenario('  - exec: { node: a, cmd: ping, retry: { timeout: 5s, interval: 1ms } }\n');
    const results = await runSteps(fakeLab(() => (++n === 2 ? Promise.reject(new Error('node a is not running')) : ok('', 1))), s.steps, { deadline: later() });
    expect(n).toBe(2);
    expect(results[0]?.failure?.message).toMatch(/node a is not running/);
  });

  it('waits for a port until it listens, and names the port when it never does', async () => {
    const procNet = (port: string) => `  sl  local_address rem_address   st\n   0: 00000000:${port} 00000000:0000 0A 0\n`;
    let n = 0;
    const s = await scenario('  - wait: { node: a, port: 80, timeout: 5s }\n');
    const results = await runSteps(fakeLab(() => ok(procNet(++n < 2 ? '0016' : '0050'))), s.steps, { deadline: later() });
    expect(results[0]?.status).toBe('passed');
    expect(n).toBe(2);
    const never = await scenario('  - wait: { node: a, port: 81, udp: true, timeout: 50ms }\n');
    const failed = await runSteps(fakeLab(() => ok(procNet('0051'))), never.steps, { deadline: later() });
    expect(failed[0]?.failure?.message).toBe('nothing listens on udp port 81 after 50 ms');
  });

  it('checks the exit code it was told to expect', async () => {
    const s = await scenario('  - exec: { node: a, cmd: "exit 3", expect: { exit: 3 } }\n  - exec: { node: a, cmd: "exit 3", expect: { exit: 4 } }\n');
    const results = await runSteps(fakeLab(() => ok('', 3)), s.steps, { deadline: later(), continueOnFailure: true });
    expect(results.map((r) => r.status)).toEqual(['passed', 'failed']);
    expect(results[1]?.failure?.message).toBe('exit code 3, expected 4');
  });

  it('bounds a step that hangs by its own timeout', async () => {
    const s = await scenario('  - wait: { node: a, console: "never", timeout: 50ms }\n  - sleep: 1ms\n');
    const results = await runSteps(fakeLab(() => ok()), s.steps, { deadline: later() });
    expect(results.map((r) => r.status)).toEqual(['failed', 'skipped']);
    expect(results[0]?.failure?.message).toBe('timed out after 50 ms waiting for a console line matching /never/');
  });

  it('bounds a step by the scenario deadline and skips the rest', async () => {
    const s = await scenario('  - exec: { node: a, cmd: hang }\n  - sleep: 1ms\n');
    const hang = () => new Promise<ExecResult>(() => undefined);
    const results = await runSteps(fakeLab(hang), s.steps, { deadline: Date.now() + 100 });
    expect(results.map((r) => r.status)).toEqual(['failed', 'skipped']);
    expect(results[0]?.failure?.message).toMatch(/^timed out after \d+ ms running a: hang$/);
  });

  it('matches a console line whose UTF-8 character is split between two chunks', async () => {
    const s = await scenario('  - wait: { node: b, console: "café prêt$", timeout: 5s }\n');
    const lab = fakeLab(() => ok());
    const done = runSteps(lab, s.steps, { deadline: later() });
    await new Promise((r) => setImmediate(r));
    const line = Buffer.from('café prêt\r\n');
    const cut = line.indexOf(Buffer.from('é')) + 1;
    lab.consoles.get('b')?.write(line.subarray(0, cut));
    lab.consoles.get('b')?.write(line.subarray(cut));
    expect((await done)[0]?.status).toBe('passed');
  });

  it('matches a console line printed after the wait began', async () => {
    const s = await scenario('  - wait: { node: b, console: "link is (up|ready)$", timeout: 5s }\n');
    const lab = fakeLab(() => ok());
    const done = runSteps(lab, s.steps, { deadline: later() });
    await new Promise((r) => setImmediate(r));
    lab.consoles.get('b')?.write('noise\r\neth1: link is ');
    lab.consoles.get('b')?.write('up\r\n');
    expect((await done)[0]?.status).toBe('passed');
  });

  it('an impair step changes the link it names (forwarded for the run), clear: true resets it', async () => {
    const s = await scenario('  - impair: { endpoints: [a:eth1], delay: 200ms }\n  - impair: { endpoints: [a:eth1], clear: true }\n');
    const calls: string[] = [];
    const results = await runSteps(fakeLab(() => ok(), calls), s.steps, { deadline: later() });
    expect(results.map((r) => r.failure)).toEqual([undefined, undefined]);
    expect(calls).toEqual(['impair a:eth1 {"delay":"200ms"}', 'clear a:eth1']);
    expect(s.forwardLinks).toEqual(['l1']);
  });

  it('expect.stdout matches the output without its final newline, as the issue writes it ("^r1$" for hostname)', async () => {
    const s = await scenario('  - exec: { node: a, cmd: hostname, expect: { stdout: "^a$" } }\n  - exec: { node: a, cmd: hostname, expect: { stdout: "^b$" } }\n');
    const results = await runSteps(fakeLab(() => ok('a\n')), s.steps, { deadline: later() });
    expect(results.map((r) => r.status)).toEqual(['passed', 'failed']);
  });

  it('node actions reach the lab: crash kills, stop and start act on that node alone', async () => {
    const calls: string[] = [];
    const s = await scenario('  - node: { name: a, action: crash }\n  - node: { name: b, action: stop }\n  - node: { name: b, action: start }\n  - node: { name: a, action: restart }\n');
    const results = await runSteps(fakeLab(() => ok(), calls), s.steps, { deadline: later() });
    expect(results.map((r) => r.status)).toEqual(['passed', 'passed', 'passed', 'passed']);
    expect(calls).toEqual(['kill a', 'stop b', 'start b', 'restart a']);
  });

  it('reads listening sockets from /proc/net', () => {
    const tcp = '  sl  local_address rem_address   st\n   0: 00000000:00B3 00000000:0000 0A 00000000:00000000\n   1: 0100007F:0016 0100007F:9C40 01 0\n';
    expect(listening(tcp, 179, false)).toBe(true);
    expect(listening(tcp, 22, false)).toBe(false);
    expect(listening('   0: 00000000:0035 00000000:0000 07 0\n', 53, true)).toBe(true);
  });
});

describe('JUnit XML', () => {
  it('escapes markup and characters XML 1.0 cannot hold', () => {
    expect(xmlEscape('a<b>&"\'\u001b[31m\u0000')).toBe('a&lt;b&gt;&amp;&quot;&apos;\\u001b[31m\\u0000');
  });

  it('parses back: one testsuite per scenario, one testcase per step, failures with messages, console as system-out', async () => {
    const s = await scenario('  - name: "<first> & \\"quoted\\""\n    exec: { node: a, cmd: "true" }\n  - exec: { node: a, cmd: "false" }\n  - sleep: 1ms\n');
    const results = await runSteps(fakeLab((cmd) => ok('\u001b[1mbold\n', cmd === 'false' ? 2 : 0)), s.steps, { deadline: later(), consoleLog: async () => Buffer.from('x\n') });
    const run: ScenarioRun = { scenario: s, passed: false, results, startedAt: Date.now(), durationMs: 1234, journal: [], consoleLogs: new Map([['a', Buffer.from('a says <hi> \u0007\n')], ['b', Buffer.from('')]]), collected: new Map(), captures: [] };
    const xml = junitXml([run, run]);
    expect(XMLValidator.validate(xml)).toBe(true);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (n) => ['testsuite', 'testcase', 'property'].includes(n) }).parse(xml);
    const suites = doc.testsuites.testsuite;
    expect(suites).toHaveLength(2);
    const suite = suites[0];
    expect(suite).toMatchObject({ name: 'fake', tests: '3', failures: '1', skipped: '1', errors: '0', time: '1.234' });
    expect(suite.testcase.map((t: { name: string }) => t.name)).toEqual(['1. <first> & "quoted"', '2. a: false', '3. sleep 1ms']);
    expect(suite.testcase[1].failure.message).toBe('exit code 2, expected 0');
    // Terminal sequences are dropped from the report (the raw console log keeps them); other control bytes are shown.
    expect(suite.testcase[1].failure['#text']).toContain('stdout| bold');
    expect(suite.testcase[1]['system-out']).toBe('bold');
    expect(suite.testcase[2].skipped).toBe('');
    expect(suite['system-out']).toContain('a says <hi> \\x07');
    expect(suite.properties.property).toContainEqual({ name: 'seed', value: String(s.seed) });
  });
});
