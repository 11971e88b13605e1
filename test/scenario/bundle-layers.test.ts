// Bundles of labs with packages: and files: (no VM): the exact layer versions and the files: sources go in, the
// replayed topology finds its files inside the bundle, and replay uses exactly the recorded versions: the cached
// layer of that key, or apt-get download NAME=VERSION, or one line naming what cannot be had. apt is a fake here.
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADDED_PACKAGES } from '../../src/guest/apt-closure.js';
import { MANIFEST_FILE, fileRecord } from '../../src/guest/cache.js';
import { LAYER_FORMAT, layerKey, layersRoot, type LayerManifest } from '../../src/guest/layer.js';
import { TopoError } from '../../src/errors.js';
import { listFiles, openBundle, writeBundle } from '../../src/scenario/bundle.js';
import { loadScenario } from '../../src/scenario/load.js';
import { prepareLayers } from '../../src/runtime/layers.js';
import { usesDefaultGuest } from '../../src/runtime/lab.js';
import type { ScenarioRun } from '../../src/scenario/runner.js';
import { tempDir } from '../helpers/tmp.js';

const saved = { ...process.env };
let base: string;
let aptLog: string;

/** apt-get: -s fails (no lists), download fails with apt's own "not found" line for 9.9-1 versions. */
async function fakeApt(): Promise<void> {
  const bin = path.join(base, 'bin');
  await mkdir(bin, { recursive: true });
  aptLog = path.join(base, 'apt.log');
  await writeFile(path.join(bin, 'apt-get'), `#!/bin/sh
echo "$*" >> ${JSON.stringify(aptLog)}
for a in "$@"; do case "$a" in *=9.9-1) echo "E: Version '9.9-1' for '\${a%%=*}' was not found" >&2; exit 100 ;; esac; done
echo "E: Unable to fetch some archives, maybe run apt-get update" >&2; exit 100
`);
  await chmod(path.join(bin, 'apt-get'), 0o755);
  Object.assign(process.env, { PATH: `${bin}:${saved.PATH}`, TOPO_CACHE_DIR: path.join(base, 'cache') });
}

async function cachedLayer(name: string, request: string[], packages: { name: string; version: string }[]): Promise<string> {
  const dir = path.join(layersRoot(), name);
  await mkdir(dir, { recursive: true });
  const image = Buffer.alloc(4096, 7);
  await writeFile(path.join(dir, 'layer.img'), image);
  const m: LayerManifest = {
    format: LAYER_FORMAT, kind: 'topo-layer', key: layerKey(packages), request, packages, added: [...ADDED_PACKAGES],
    image: await fileRecord('layer.img', image), users: [], groups: [], dirs: [], builtAt: '2026-12-01T00:00:00.000Z',
  };
  await writeFile(path.join(dir, MANIFEST_FILE), JSON.stringify(m));
  return dir;
}

const IPERF = [{ name: 'iperf3', version: '3.12-1' }, { name: 'libiperf0', version: '3.12-1' }];

/** A finished run of a lab with packages: and files: (inside the lab's directory, outside it, inline). */
async function labRun(): Promise<{ run: ScenarioRun; dir: string }> {
  const dir = path.join(base, 'lab');
  await mkdir(path.join(dir, 'r1'), { recursive: true });
  await writeFile(path.join(dir, 'r1', 'frr.conf'), 'hostname r1\n');
  await writeFile(path.join(base, 'outside.sh'), '#!/bin/sh\necho hi\n');
  await writeFile(path.join(dir, 'lab.yaml'), [
    'name: lab # a comment that stays',
    'nodes:',
    '  a:',
    '    packages: [iperf3]',
    '    files:',
    '      /etc/frr/frr.conf: ./r1/frr.conf',
    '      /usr/local/bin/hi: { file: ../outside.sh, mode: "0755" }',
    '      /etc/motd: { string: "lab\\n" }',
    '  b: {}',
    '',
  ].join('\n'));
  await writeFile(path.join(dir, 's.yaml'), 'name: With packages\ntopology: lab.yaml\nsteps:\n  - exec: { node: a, cmd: "true" }\n');
  const res = await loadScenario(path.join(dir, 's.yaml'));
  if (!res.ok) throw new Error(res.diagnostics[0]?.message);
  const run: ScenarioRun = {
    scenario: res.scenario, passed: true, results: [], startedAt: Date.now(), durationMs: 1, accel: 'tcg', journal: [],
    consoleLogs: new Map(), collected: new Map(), captures: [],
  };
  return { run, dir };
}

beforeEach(async () => {
  base = tempDir('topo-bundle-layers-');
  await fakeApt();
});
afterEach(() => {
  Object.assign(process.env, saved);
});

describe('bundles of labs with packages: and files:', () => {
  it('record the layer versions of each node and carry the files: sources, which the replayed topology finds', async () => {
    await cachedLayer('iperf', ['iperf3'], IPERF);
    const { run } = await labRun();
    const opened = await openBundle(await writeBundle(run, path.join(base, 'out')));
    try {
      const files = (await listFiles(opened.dir)).map((f) => f.file).sort();
      expect(files).toEqual(expect.arrayContaining(['packages.lock.json', 'files/r1/frr.conf', `files/host${path.join(base, 'outside.sh')}`, 'topology.yaml', 'topology.original.yaml']));
      expect(opened.manifest.files).toContain('packages.lock.json');
      expect(JSON.parse(await readFile(path.join(opened.dir, 'packages.lock.json'), 'utf8'))).toEqual({
        format: 1,
        nodes: { a: { request: ['iperf3'], key: layerKey(IPERF), packages: ['iperf3=3.12-1', 'libiperf0=3.12-1'] } },
      });
      expect([...opened.layerPins!]).toEqual([['a', IPERF]]);
      const topo = await readFile(path.join(opened.dir, 'topology.yaml'), 'utf8');
      expect(topo).toContain('# a comment that stays');
      expect(topo).toContain('/etc/frr/frr.conf: files/r1/frr.conf');
      // Replay loads with confinement to the bundle: every files: source must be inside it.
      const replay = await loadScenario(opened.scenarioFile, { confine: opened.dir });
      if (!replay.ok) throw new Error(replay.diagnostics[0]?.message);
      const node = replay.scenario.topology.nodes.find((n) => n.name === 'a')!;
      const sources = node.files!.map((f) => ('file' in f.source ? f.source.file : f.source.string));
      expect(sources).toEqual([path.join(opened.dir, 'files/r1/frr.conf'), path.join(opened.dir, `files/host${path.join(base, 'outside.sh')}`), 'lab\n']);
      expect(await readFile(sources[0]!, 'utf8')).toBe('hostname r1\n');
      expect(node.files![1]!.mode).toBe(0o755);
    } finally {
      await opened.close();
    }
  });

  it('an inline topology with files: replays from topology.yaml, which names them in the bundle', async () => {
    const { run } = await labRun();
    await writeFile(path.join(base, 'cfg'), 'inline\n');
    await writeFile(path.join(base, 'i.yaml'), 'name: Inline\ntopology:\n  name: inl\n  nodes:\n    a: { files: { /etc/cfg: ./cfg } }\nsteps: [{ exec: { node: a, cmd: "true" } }]\n');
    const loaded = await loadScenario(path.join(base, 'i.yaml'));
    if (!loaded.ok) throw new Error('invalid');
    const opened = await openBundle(await writeBundle({ ...run, scenario: loaded.scenario }, path.join(base, 'out')));
    try {
      const replay = await loadScenario(opened.scenarioFile, { confine: opened.dir });
      if (!replay.ok) throw new Error(replay.diagnostics[0]?.message);
      const f = replay.scenario.topology.nodes[0]!.files![0]!;
      expect('file' in f.source && f.source.file).toBe(path.join(opened.dir, 'files/cfg'));
    } finally {
      await opened.close();
    }
  });

  it('a lab without packages: has no lock, and its topology is copied as written', async () => {
    const { run } = await labRun();
    const plain = path.join(base, 'plain.yaml');
    await writeFile(plain, 'name: plain\nnodes: { a: {} }\n');
    await writeFile(path.join(base, 'p.yaml'), 'name: Plain\ntopology: plain.yaml\nsteps: [{ exec: { node: a, cmd: "true" } }]\n');
    const loaded = await loadScenario(path.join(base, 'p.yaml'));
    if (!loaded.ok) throw new Error('invalid');
    const opened = await openBundle(await writeBundle({ ...run, scenario: loaded.scenario }, path.join(base, 'out')));
    try {
      expect(opened.layerPins).toBeUndefined();
      expect(opened.manifest.files).not.toContain('packages.lock.json');
      expect(await readFile(path.join(opened.dir, 'topology.yaml'), 'utf8')).toBe('name: plain\nnodes: { a: {} }\n');
    } finally {
      await opened.close();
    }
  });
});

describe('replaying the recorded versions', () => {
  async function replayed(pins: Map<string, { name: string; version: string }[]>) {
    const { run } = await labRun();
    return prepareLayers(run.scenario.topology, usesDefaultGuest, { pins });
  }

  it('the cached layer of exactly those versions serves without apt; another version of the list does not', async () => {
    const other = await cachedLayer('newer', ['iperf3'], [{ name: 'iperf3', version: '3.16-1' }, { name: 'libiperf0', version: '3.16-1' }]);
    const exact = await cachedLayer('exact', ['iperf3'], IPERF);
    const layers = await replayed(new Map([['a', IPERF]]));
    try {
      expect(layers.byNode.get('a')?.dir).toBe(exact);
      expect(layers.byNode.get('a')?.dir).not.toBe(other);
      await expect(readFile(aptLog, 'utf8')).rejects.toThrow();
    } finally {
      await layers.release();
    }
  });

  it('versions apt cannot have fail in one line naming them, after asking for exactly those versions', async () => {
    await cachedLayer('newer', ['iperf3'], [{ name: 'iperf3', version: '3.16-1' }, { name: 'libiperf0', version: '3.16-1' }]);
    const pins = [{ name: 'iperf3', version: '9.9-1' }, { name: 'libiperf0', version: '3.12-1' }];
    const err = (await replayed(new Map([['a', pins]])).catch((e: unknown) => e)) as TopoError;
    expect(err).toBeInstanceOf(TopoError);
    expect(err.code).toBe('E_PACKAGE_PINNED');
    expect(err.oneLine()).toBe(
      "error: cannot get the exact package versions this bundle recorded: iperf3=9.9-1 (the host's apt must offer these versions (add the snapshot mirror of that date to its sources), or run the scenario itself instead of the bundle)",
    );
    expect(await readFile(aptLog, 'utf8')).toBe('download -q iperf3=9.9-1 libiperf0=3.12-1\n');
  });

  it('a download failure naming no version lists every recorded package', async () => {
    const err = (await replayed(new Map([['a', IPERF]])).catch((e: unknown) => e)) as TopoError;
    expect(err.message).toBe('cannot get the exact package versions this bundle recorded: iperf3=3.12-1 libiperf0=3.12-1');
  });
});
