// The terminal view of `topo test`: boot, then one task per step, finished by the runner's results.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { loadScenario } from '../../src/scenario/load.js';
import { StepListReporter } from '../../src/cli/step-list.js';
import { tempDir } from '../helpers/tmp.js';

/** Loads the scenario text, drives a simple-renderer list with it, and returns everything it wrote. */
async function render(yaml: string, drive: (list: StepListReporter) => void): Promise<string> {
  const file = path.join(tempDir('topo-list-'), 's.scenario.yaml');
  writeFileSync(file, yaml);
  const res = await loadScenario(file);
  if (!res.ok) throw new Error('invalid');
  let text = '';
  const capture = (c: string | Uint8Array) => ((text += String(c)), true);
  const spies = [vi.spyOn(process.stdout, 'write').mockImplementation(capture), vi.spyOn(process.stderr, 'write').mockImplementation(capture)];
  try {
    const list = new StepListReporter(res.scenario, { renderer: 'simple' });
    drive(list);
    await list.close();
  } finally {
    spies.forEach((s) => s.mockRestore());
  }
  return text;
}

describe('StepListReporter', () => {
  it('shows each step as passed, failed or skipped, and ends once all are settled', async () => {
    const text = await render('name: list\ntopology: { name: t, nodes: { a: {} } }\nsteps:\n  - exec: { node: a, cmd: "true" }\n  - exec: { node: a, cmd: "false" }\n  - sleep: 1s\n', (list) => {
      list.stepStart();
      list.stepEnd({ index: 0, name: 'a: true', kind: 'exec', status: 'passed', startedAt: 0, durationMs: 1200 });
      list.stepEnd({ index: 1, name: 'a: false', kind: 'exec', status: 'failed', startedAt: 0, durationMs: 300, failure: { message: 'exit code 1, expected 0', got: [], console: [] } });
      list.stepEnd({ index: 2, name: 'sleep 1s', kind: 'sleep', status: 'skipped', startedAt: 0, durationMs: 0 });
    });
    expect(text).toContain('1. a: true (1.2 s)');
    expect(text).toContain('2. a: false (0.3 s)');
    expect(text).toContain('exit code 1, expected 0');
    expect(text).toContain('3. sleep 1s');
  });

  it('fails the boot task when the lab never came up', async () => {
    const text = await render('topology: { name: t, nodes: { a: {} } }\nsteps:\n  - sleep: 1s\n', (list) => {
      list.stepEnd({ index: 0, name: 'sleep 1s', kind: 'sleep', status: 'failed', startedAt: 0, durationMs: 0, failure: { message: 'the lab did not start: no QEMU', got: [], console: [] } });
    });
    expect(text).toContain('the lab did not start: no QEMU');
  });
});
