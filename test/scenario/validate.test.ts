import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario, seedFromName } from '../../src/scenario/load.js';
import { levenshtein } from '../../src/topology/diagnostics.js';
import { runCli } from '../cli/run-cli.js';
import { tempDir } from '../helpers/tmp.js';

const BAD = 'test/fixtures/scenarios/bad.scenario.yaml';

function scenarioFile(text: string): string {
  const dir = tempDir('topo-scn-');
  const file = path.join(dir, 'x.scenario.yaml');
  writeFileSync(file, text);
  return file;
}

describe('scenario validation', () => {
  it('reports every problem at once with file:line:col, "did you mean" and topology cross-checks', async () => {
    const res = await runCli('validate', BAD);
    expect(res.code).toBe(1);
    const lines = res.stderr.trimEnd().split('\n');
    expect(lines).toEqual([
      `${BAD}:3:10: error: timeout "5q": unknown duration unit "q"; use ms, s, m, h (e.g. 500ms, 2s, 1m)`,
      `${BAD}:5:5: error: unknown key \`exce\` in step 1; did you mean \`exec\`?`,
      `${BAD}:6:19: error: step 2 exec node "n9": unknown node "n9" (nodes in ring: n1, n2, n3, n4)`,
      `${BAD}:6:56: error: step 2 exec expect stdout: not a valid regular expression (missing closing ): \`(a\`); escape special characters with a backslash`,
      `${BAD}:7:24: error: endpoints n1:eth1 and n3:eth1 are on different links (l1, l2); name the two ends of one link`,
      `${BAD}:7:51: error: step 3 link state "dwn": must be one of down, up; did you mean down?`,
      `${BAD}:8:27: error: endpoint "n1:eth7" is not on any link; did you mean "n1:eth1"? (endpoints: n1:eth1, n2:eth1, n2:eth2, n3:eth1, n3:eth2, n4:eth1, n4:eth2, n1:eth2)`,
      `${BAD}:9:11: error: wait in step 5 needs exactly one of console (a regex) or port (a number); it has neither`,
      `${BAD}:11:5: error: step 6 has 2 actions (exec, sleep); one per step, split it into 2 steps`,
      `${BAD}:12:19: error: no such file: ${path.resolve('test/fixtures/scenarios/nope')} (copy takes one file; paths are relative to the scenario file)`,
      `${BAD}:13:31: error: step 8 node action "reboot": must be one of crash, restart, stop, start`,
    ]);
  });

  it('locates problems of an inline topology in the scenario file', async () => {
    const file = scenarioFile('topology:\n  name: t\n  nodes:\n    a: { memroy: 128M }\nsteps:\n  - sleep: 1s\n');
    const res = await loadScenario(file);
    expect(res.ok).toBe(false);
    expect(res.diagnostics.map((d) => `${d.line}:${d.column}: ${d.message}`)).toEqual(['4:10: unknown key `memroy` in node a; did you mean `memory`?']);
  });

  it('names a topology file that cannot be read, relative to the scenario', async () => {
    const file = scenarioFile('topology: ./missing.yaml\nsteps:\n  - sleep: 1s\n');
    const res = await loadScenario(file);
    expect(res.ok).toBe(false);
    expect(res.diagnostics[0]?.line).toBe(1);
    expect(res.diagnostics[0]?.message).toContain(path.join(path.dirname(file), 'missing.yaml'));
  });

  it('resolves steps: derived names, durations, links, the seed and the links to forward', async () => {
    const res = await loadScenario('topologies/scenarios/ring.scenario.yaml');
    if (!res.ok) throw new Error(res.diagnostics.map((d) => d.message).join('\n'));
    const s = res.scenario;
    expect(s.seed).toBe(42);
    expect(s.timeoutMs).toBe(300_000);
    expect(s.steps[1]).toMatchObject({ kind: 'link', name: 'link n1:eth1 n2:eth1 down', link: 'l1', state: 'down' });
    expect(s.steps[5]).toMatchObject({ kind: 'impair', name: 'impair n3:eth2 n4:eth1 delay 200ms', link: 'l3', spec: { delay: '200ms' } });
    expect(s.steps[0]).toMatchObject({ kind: 'exec', retry: { timeoutMs: 30_000, intervalMs: 1000 }, expect: { exit: 0 } });
    expect(s.forwardLinks).toEqual(['l3']);
    const overridden = await loadScenario('topologies/scenarios/ring.scenario.yaml', { seed: 7 });
    expect(overridden.ok && overridden.scenario.seed).toBe(7);
  });

  it('derives the default seed from the name', async () => {
    const file = scenarioFile('name: some name\ntopology: { name: t, nodes: { a: {} } }\nsteps:\n  - sleep: 1s\n');
    const res = await loadScenario(file);
    expect(res.ok && res.scenario.seed).toBe(seedFromName('some name'));
    expect(seedFromName('some name')).not.toBe(seedFromName('other name'));
  });

  it.each(readdirSync('topologies/scenarios'))('repository scenario %s validates', async (name) => {
    const res = await runCli('validate', path.join('topologies/scenarios', name));
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/: ok \(scenario, \d+ steps/);
  });

  it('counts a swapped pair of letters as one edit', () => {
    expect(levenshtein('exce', 'exec')).toBe(1);
    expect(levenshtein('memroy', 'memory')).toBe(1);
    expect(levenshtein('abc', 'abc')).toBe(0);
  });
});
