// Package layers for bench/run.ts: the `frr` layer built cold (a fresh cache directory: resolve, download, unpack,
// image) and from cache, its size; boot to ready with vs without it (1 node, interleaved A/B); host memory of N
// nodes with vs without it (sum of the QEMUs' PSS and RSS at ready). Prints one JSON object.
// `node --import tsx bench/layers.ts [--quick]`
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureLayer } from '../src/guest/layer.js';
import { up } from '../src/control/up.js';
import { loadTopology } from '../src/topology/index.js';

const quick = process.argv.includes('--quick');
const PACKAGES = ['frr'];
const tmp = await mkdtemp(path.join(os.tmpdir(), 'topo-bench-layers-'));
const say = (m: string) => process.stderr.write(`[bench layers] ${m}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The layer built in a fresh cache directory (really cold: no image, no resolution memo), then found in it. */
async function buildTimes() {
  const saved = process.env.TOPO_CACHE_DIR;
  process.env.TOPO_CACHE_DIR = path.join(tmp, 'cache');
  try {
    const marks: [string, number][] = [['resolve', performance.now()]];
    const t0 = performance.now();
    const cold = await ensureLayer(PACKAGES, { onProgress: (m) => marks.push([m.replace(/^packages: /, '').split(' ')[0]!, performance.now()]) });
    const coldS = (performance.now() - t0) / 1000;
    await cold.release();
    marks.push(['end', performance.now()]);
    const phases = Object.fromEntries(marks.slice(0, -1).map(([name, at], i) => [name, Number(((marks[i + 1]![1] - at) / 1000).toFixed(2))]));
    const t1 = performance.now();
    const warm = await ensureLayer(PACKAGES);
    const cachedS = (performance.now() - t1) / 1000;
    await warm.release();
    return { coldS, cachedS, phases, packages: cold.manifest.packages.length, imageMiB: cold.manifest.image.bytes / 2 ** 20 };
  } finally {
    if (saved === undefined) delete process.env.TOPO_CACHE_DIR;
    else process.env.TOPO_CACHE_DIR = saved;
  }
}

function procKiB(pid: number, file: string, field: string): number {
  try {
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/${file}`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** n standalone 256M default-guest nodes, with or without the layer: boot times and the QEMUs' memory at ready. */
async function lab(n: number, withLayer: boolean) {
  const file = path.join(tmp, `l${n}${withLayer ? 'frr' : ''}.yaml`);
  const pk = withLayer ? `  packages: [${PACKAGES.join(', ')}]\n` : '';
  await writeFile(file, `name: bench-layer-${n}${withLayer ? '-frr' : ''}\ndefaults:\n  memory: 256M\n  host_network: false\n${pk}nodes:\n${Array.from({ length: n }, (_, i) => `  n${i + 1}: {}`).join('\n')}\n`);
  const loaded = await loadTopology(file);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.diagnostics));
  const pids: number[] = [];
  const boots: number[] = [];
  const l = await up(loaded.topology, {
    accel: 'tcg',
    runDirBase: path.join(tmp, 'run'),
    control: false,
    onEvent: (e) => {
      if (e.type === 'node' && e.state === 'booting' && e.pid) pids.push(e.pid);
      if (e.type === 'node' && e.state === 'ready' && e.readyMs !== undefined) boots.push(e.readyMs / 1000);
    },
  });
  try {
    // What the guests hold once booted and idle (late page faults of the boot settle).
    await new Promise((r) => setTimeout(r, 2000));
    const pssMiB = pids.reduce((a, p) => a + procKiB(p, 'smaps_rollup', 'Pss'), 0) / 1024;
    const rssMiB = pids.reduce((a, p) => a + procKiB(p, 'status', 'VmRSS'), 0) / 1024;
    return { bootS: median(boots), pssMiB, rssMiB };
  } finally {
    await l.down({ force: true });
  }
}

try {
  say('frr layer: cold build in a fresh cache directory, then from cache');
  const build = await buildTimes();
  // The A/B below uses the user's cache: build it there too (a cache hit when it exists).
  await (await ensureLayer(PACKAGES)).release();
  const rounds = quick ? 3 : 5;
  const boot = { without: [] as number[], with: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    say(`boot A/B ${i + 1}/${rounds}`);
    // Interleaved, order alternating: the machine's speed drifts within minutes.
    for (const w of i % 2 === 0 ? [false, true] : [true, false]) boot[w ? 'with' : 'without'].push((await lab(1, w)).bootS);
  }
  const n = quick ? 4 : 16;
  say(`${n} nodes: memory without, then with the layer`);
  const without = await lab(n, false);
  const withL = await lab(n, true);
  console.log(JSON.stringify({ build, boot, memory: { nodes: n, without, with: withL } }));
} finally {
  await rm(tmp, { recursive: true, force: true });
}
