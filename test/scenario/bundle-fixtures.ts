// A finished run without QEMU, and a way to edit a bundle as an attacker would (unpack, change, pack).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tar from 'tar';
import { loadScenario } from '../../src/scenario/load.js';
import type { ScenarioRun } from '../../src/scenario/runner.js';
import { tempDir } from '../helpers/tmp.js';

export const tmp = () => tempDir('topo-bundle-test-');

export async function fakeRun(): Promise<ScenarioRun> {
  const dir = tmp();
  writeFileSync(path.join(dir, 'cfg.txt'), 'config\n');
  writeFileSync(path.join(dir, 'pair.yaml'), 'name: pair\nnodes: { a: {}, b: {} }\nlinks: [{ endpoints: [a:eth1, b:eth1], capture: true }]\n');
  const file = path.join(dir, 's.scenario.yaml');
  writeFileSync(file, 'name: Fake Run\ntopology: pair.yaml\nsteps:\n  - copy: { from: ./cfg.txt, to: a:/tmp/cfg }\n  - exec: { node: a, cmd: "false" }\n');
  const res = await loadScenario(file);
  if (!res.ok) throw new Error(res.diagnostics[0]?.message);
  const pcap = path.join(dir, 'l1.pcap');
  writeFileSync(pcap, 'pcap bytes');
  return {
    scenario: res.scenario,
    passed: false,
    results: [
      { index: 0, name: 'copy', kind: 'copy', status: 'passed', startedAt: 0, durationMs: 5 },
      { index: 1, name: 'a: false', kind: 'exec', status: 'failed', startedAt: 0, durationMs: 5, failure: { message: 'exit code 1, expected 0', got: [], console: [] } },
    ],
    startedAt: Date.now(),
    durationMs: 10,
    accel: 'tcg',
    journal: [{ time: new Date().toISOString(), type: 'step', state: 'start', step: 1, name: 'copy' }],
    consoleLogs: new Map([['a', Buffer.from('a log\n')], ['b', Buffer.from('b log\n')]]),
    collected: new Map<string, Buffer | string>([['a/etc/hostname', Buffer.from('a\n')], ['b/nope', 'cannot read b:/nope: exit 1']]),
    captures: [pcap],
  };
}

export async function retar(bundle: string, edit: (dir: string) => void | Promise<void>): Promise<string> {
  const dir = tmp();
  await tar.x({ file: bundle, cwd: dir });
  await edit(dir);
  const out = path.join(tmp(), 'edited.tar.gz');
  await tar.c({ gzip: true, file: out, cwd: dir }, ['.']);
  return out;
}

