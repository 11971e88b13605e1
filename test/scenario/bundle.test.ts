// Bundles without QEMU: what goes in, and how replay treats corrupt, incompatible and escaping bundles.
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listFiles, openBundle, writeBundle } from '../../src/scenario/bundle.js';
import { loadScenario } from '../../src/scenario/load.js';
import { fakeRun, retar } from './bundle-fixtures.js';
import { runCli } from '../cli/run-cli.js';
import { tempDir } from '../helpers/tmp.js';

const tmp = () => tempDir('topo-bundle-test-');

describe('reproduction bundles', () => {
  it('hold the scenario (replayable), topology, seed, versions, logs, pcaps, collected and copied files', async () => {
    const run = await fakeRun();
    const file = await writeBundle(run, tmp());
    expect(path.basename(file)).toMatch(/^fake-run-.*\.tar\.gz$/);
    const opened = await openBundle(file);
    try {
      const files = (await listFiles(opened.dir)).map((f) => f.file).sort();
      expect(files).toEqual(['captures/l1.pcap', 'cfg.txt', 'collected/a/etc/hostname', 'collected/b/nope.error', 'events.jsonl', 'logs/a.log', 'logs/b.log', 'manifest.json', 'scenario.original.yaml', 'scenario.yaml', 'seed', 'topology.resolved.json', 'topology.yaml', 'versions.json']);
      expect(opened.manifest).toMatchObject({ kind: 'topo-bundle', format: 1, seed: run.scenario.seed, passed: false, failedStep: { number: 2, name: 'a: false' } });
      expect(opened.manifest.versions).toMatchObject({ accel: 'tcg', topo: expect.any(String), hostKernel: expect.any(String) });
      // Replays from its own files with the same seed.
      const replay = await loadScenario(opened.scenarioFile, { confine: opened.dir });
      if (!replay.ok) throw new Error(replay.diagnostics[0]?.message);
      expect(replay.scenario.seed).toBe(run.scenario.seed);
      expect(replay.scenario.topologyFile).toBe(path.join(opened.dir, 'topology.yaml'));
      expect(replay.scenario.steps.map((s) => s.name)).toEqual(run.scenario.steps.map((s) => s.name));
    } finally {
      await opened.close();
    }
  });

  it('a corrupt bundle is one line, exit 2', async () => {
    const bad = path.join(tmp(), 'bad.tar.gz');
    writeFileSync(bad, 'not gzip at all');
    const res = await runCli('test', bad);
    expect(res.code).toBe(2);
    expect(res.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(/bad\.tar\.gz: corrupt bundle/);
  });

  it('a bundle of another format is refused as incompatible, exit 2', async () => {
    const file = await writeBundle(await fakeRun(), tmp());
    const edited = await retar(file, (dir) => {
      const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
      writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ ...m, format: 99 }));
    });
    const res = await runCli('test', edited);
    expect(res.code).toBe(2);
    expect(res.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(res.stderr).toContain('incompatible bundle: format 99, this topo reads format 1');
  });

  it('a replayed scenario naming a file outside the bundle is refused with the path', async () => {
    const file = await writeBundle(await fakeRun(), tmp());
    const outside = path.join(tmp(), 'secret.txt');
    writeFileSync(outside, 'x');
    const edited = await retar(file, (dir) => {
      const text = readFileSync(path.join(dir, 'scenario.yaml'), 'utf8').replace('./cfg.txt', outside);
      writeFileSync(path.join(dir, 'scenario.yaml'), text);
    });
    const res = await runCli('test', edited);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`${outside} is outside the bundle`);
  });

  it('a replayed scenario whose topology points outside the bundle is refused with the path', async () => {
    const file = await writeBundle(await fakeRun(), tmp());
    const elsewhere = tmp();
    mkdirSync(elsewhere, { recursive: true });
    const edited = await retar(file, (dir) => {
      const text = readFileSync(path.join(dir, 'scenario.yaml'), 'utf8').replace('topology: topology.yaml', `topology: ${elsewhere}/t.yaml`);
      writeFileSync(path.join(dir, 'scenario.yaml'), text);
    });
    const res = await runCli('test', edited);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`${elsewhere}/t.yaml is outside the bundle; a replayed bundle only touches its own files`);
  });

  it('unpacks only plain files: a symlink in a bundle never reaches a host file', async () => {
    const file = await writeBundle(await fakeRun(), tmp());
    const edited = await retar(file, (dir) => {
      rmSync(path.join(dir, 'cfg.txt'));
      symlinkSync('/etc/passwd', path.join(dir, 'cfg.txt'));
    });
    const res = await runCli('test', edited);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/cfg\.txt is missing/);
    expect(existsSync('/etc/passwd')).toBe(true);
  });
});
