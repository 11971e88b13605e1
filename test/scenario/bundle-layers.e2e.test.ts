// A bundle of a lab with packages: and files:, replayed on real QEMU after the lab's own directory is gone: the
// layer comes from the recorded versions (a cache hit here) and the file from the bundle.
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { topo } from '../helpers/cli.js';

let base: string;
beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-bundle-layers-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

it('a bundle with packages: [iperf3] and a files: entry replays from its own files', async () => {
  const lab = path.join(base, 'lab');
  await mkdir(path.join(lab, 'conf'), { recursive: true });
  await writeFile(path.join(lab, 'conf', 'motd'), 'from the host file\n');
  await writeFile(path.join(lab, 'lab.yaml'), 'name: bundled-layer\nnodes:\n  a:\n    packages: [iperf3]\n    files:\n      /etc/motd: ./conf/motd\n');
  await writeFile(path.join(lab, 's.yaml'), [
    'name: bundled layer',
    'topology: lab.yaml',
    'steps:',
    '  - exec: { node: a, cmd: "iperf3 --version", expect: { stdout: "iperf 3" } }',
    '  - exec: { node: a, cmd: "cat /etc/motd", expect: { stdout: "from the host file" } }',
    '',
  ].join('\n'));
  const env = { TOPO_RUN_DIR: path.join(base, 'run') };
  const first = await topo(['test', '--no-ui', path.join(lab, 's.yaml'), '--bundle', path.join(base, 'bundles')], env);
  expect(first.all).not.toMatch(/FAIL/);
  expect(first.exitCode).toBe(0);
  const [bundle] = await readdir(path.join(base, 'bundles'));
  await rm(lab, { recursive: true });
  const replay = await topo(['test', '--no-ui', path.join(base, 'bundles', bundle!)], env);
  expect(replay.all).not.toMatch(/FAIL/);
  expect(replay.exitCode).toBe(0);
  expect(replay.all).toContain('replaying');
}, 600_000);
