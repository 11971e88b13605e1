// Every benchmark in one run, one table, JSON results with the machine's facts. `npm run bench [-- --quick]`.
import { execa } from 'execa';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureGuest } from '../src/guest/index.js';
import { cleanup, cliLab, guestThroughput, median, plainScript, type LabRun } from './labs.js';

const quick = process.argv.includes('--quick');
const out = process.argv.includes('--out') ? process.argv[process.argv.indexOf('--out') + 1]! : path.join(process.cwd(), 'bench-results.json');
const rows: [string, string, string][] = [];
const results: Record<string, unknown> = {};
const say = (m: string) => process.stderr.write(`[bench] ${m}\n`);
const s = (x: number) => `${x.toFixed(2)} s`;

async function script(file: string, args: string[] = []): Promise<string> {
  const r = await execa(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, file), ...args], { reject: false, all: true });
  if (r.exitCode !== 0) throw new Error(`${file} failed:\n${r.all}`);
  return String(r.stdout);
}

const guest = await ensureGuest();
const qemu = (await execa('qemu-system-x86_64', ['--version'], { reject: false })).stdout.split('\n')[0];
results.machine = { cores: os.availableParallelism(), memGiB: Math.round(os.totalmem() / 2 ** 30), accel: 'tcg', qemu, kernel: guest.kernelVersion, busybox: guest.busyboxVersion, node: process.version, date: new Date().toISOString() };
await guest.release();

say('validation');
const v = await script('validate.ts');
rows.push(['validate + resolve 1,000 nodes / 2,000 links', v.match(/[\d.]+ ms/g)?.join(' / ') ?? v.trim(), '']);
results.validate = v.trim();

say('relay');
const relay = await script('net-relay.ts', [quick ? '200000' : '1000000']);
results.relay = relay.trim();
const relayLines = relay.split('\n');
for (const size of ['1500 B', '64 B']) {
  const cols = (mode: string) => relayLines.find((l) => l.trim().startsWith(`${size} ${mode}`))?.trim().split(/\s{2,}|\s(?=\d)/).filter(Boolean) ?? [];
  const [d, f] = [cols('direct'), cols('forwarded')];
  rows.push([`relay ${size}: forwarded vs direct socketpair`, `${f[1] ?? '?'} vs ${d[1] ?? '?'} frames/s (${f[2] ?? '?'} vs ${d[2] ?? '?'} Gbit/s)`, size === '1500 B' ? '>= 5 Gbit/s forwarded' : '']);
}
const delay = relayLines.find((l) => l.trim().startsWith('forwarded, delay'))?.trim().split(/\s+/);
if (delay) rows.push(['delay 10 ms: late by p50 / p99 (ms)', `${delay.at(-3)} / ${delay.at(-2)}`, 'p99 < 2 ms']);
const losses = relayLines.slice(relayLines.findIndex((l) => l.startsWith('loss:'))).map((l) => /\s(\d+\.\d+) %/.exec(l)?.[1]).filter(Boolean).map(Number);
if (losses.length) rows.push(['loss 20 % configured, measured per seed', `${Math.min(...losses).toFixed(2)}–${Math.max(...losses).toFixed(2)} %`, 'within 0.5 points']);

say('tcp link');
const tcpOut = await script('net-tcp.ts', [quick ? '100000' : '300000', '3']);
results.tcpLink = tcpOut.trim();
for (const size of ['1500 B', '64 B']) {
  const col = (mode: string) => tcpOut.split('\n').find((l) => l.trim().startsWith(`${size} ${mode}`))?.trim().split(/\s+/) ?? [];
  const [f, t] = [col('forwarded'), col('tcp')];
  rows.push([`TCP link between runners ${size}: tcp vs forwarded`, `${t[3] ?? '?'} vs ${f[3] ?? '?'} frames/s (${t[4] ?? '?'} vs ${f[4] ?? '?'} Gbit/s)`, size === '1500 B' ? '>= 1 Gbit/s tcp' : '']);
}

if (!quick) {
  say('boot cuts A/B');
  const ab = (await script('boot-ab.ts', ['5'])).trim().split('\n').map((l) => JSON.parse(l) as { variant: string; wallS: number; cpuS: number });
  results.bootCuts = ab;
  for (const v of [...new Set(ab.map((x) => x.variant))]) {
    const xs = ab.filter((x) => x.variant === v);
    rows.push([`boot cuts: ${v}`, `${s(median(xs.map((x) => x.wallS)))}, ${median(xs.map((x) => x.cpuS)).toFixed(2)} CPU-s (bare QEMU, console only)`, '']);
  }
}

// Every topo run is one foreground `topo up` CLI process of a ring: its time to ready is an overhead sample against
// the plain script at 1, 4 and 16 nodes, a point of the scale curve, and its Ctrl-C a teardown sample; the largest
// lab's runner is measured while it idles. Lone boots (1 node) bracket every larger size: a point's CPU-bound limit
// comes from the boots just before and after it, since the machine's speed drifts by tens of percent in minutes.
const sizes = quick ? [2, 4, 8, 16] : [2, 4, 8, 16, 32, 64];
const abSizes = [1, 4, 16];
const biggest = sizes.at(-1)!;
const runsOf = (n: number) => (!abSizes.includes(n) ? 1 : quick ? 1 : n >= 16 ? 2 : 3);
const runs: Record<number, { topo: LabRun[]; plain: number[] }> = { 1: { topo: [], plain: [] } };
const plainLone = quick ? 3 : 5;
async function loneBoot(): Promise<LabRun> {
  const r = runs[1]!;
  const plainFirst = r.topo.length % 2 === 0;
  if (plainFirst && r.plain.length < plainLone) r.plain.push(await plainScript(1));
  const run = await cliLab(1);
  r.topo.push(run);
  if (!plainFirst && r.plain.length < plainLone) r.plain.push(await plainScript(1));
  return run;
}
say('1 node: topo up vs a plain script');
const lone = [await loneBoot()];
for (const n of sizes) {
  say(`${n} nodes: topo up${abSizes.includes(n) ? ' vs a plain script' : ''}`);
  const r = (runs[n] = { topo: [] as LabRun[], plain: [] as number[] });
  const count = runsOf(n);
  const plainCount = abSizes.includes(n) ? count : 0;
  for (let i = 0; i < count; i++) {
    // Interleaved A/B, order alternating.
    if (i % 2 === 0 && r.plain.length < plainCount) r.plain.push(await plainScript(n));
    r.topo.push(await cliLab(n, { idleMs: n === biggest && i === count - 1 ? (quick ? 5000 : 10_000) : 0 }));
    if (i % 2 === 1 && r.plain.length < plainCount) r.plain.push(await plainScript(n));
  }
  say('1 node');
  lone.push(await loneBoot());
}
const byReady = (xs: LabRun[]) => [...xs].sort((a, b) => a.readyS - b.readyS)[Math.floor(xs.length / 2)]!;

const single = runs[1]!.topo;
const bootS = median(single.map((p) => p.bootS));
const bootCpu = median(single.map((p) => p.cpuPerBootS));
rows.push([`default guest boot to ready (median of ${single.length}, QEMU start to ready)`, `${s(bootS)}, ${bootCpu.toFixed(2)} CPU-s`, '< 1.0 s, < 1.0 CPU-s']);
results.guestBoot = { readyS: single.map((p) => p.bootS), cpuS: single.map((p) => p.cpuPerBootS) };

for (const n of abSizes) {
  const topo = median(runs[n]!.topo.map((p) => p.readyS));
  const plain = median(runs[n]!.plain);
  rows.push([`${n} node${n > 1 ? 's' : ''}: topo up vs plain script (process start to all ready)`, `${s(topo)} vs ${s(plain)} (${(topo / plain).toFixed(2)})`, n === 16 ? 'ratio <= 1.00' : '']);
}
results.overhead = Object.fromEntries(abSizes.map((n) => [n, { plain: runs[n]!.plain, topo: runs[n]!.topo.map((p) => p.readyS) }]));
const ratio = median(runs[16]!.topo.map((p) => p.readyS)) / median(runs[16]!.plain);

const cores = os.availableParallelism();
const curve = sizes.map((n, k) => ({ ...byReady(runs[n]!.topo), loneCpuS: (lone[k]!.cpuPerBootS + lone[k + 1]!.cpuPerBootS) / 2 }));
for (const p of curve) {
  const limit = (p.nodes * p.loneCpuS) / cores;
  const goal = p.nodes === 64 ? 'efficiency >= 0.8' : p.nodes === 16 ? 'efficiency >= 0.85' : '';
  rows.push([`${p.nodes} nodes ready (ring)`, `${s(p.readyS)}; ${p.cpuPerBootS.toFixed(2)} CPU-s/boot (lone ${p.loneCpuS.toFixed(2)}); limit ${s(limit)}; efficiency ${(limit / p.readyS).toFixed(2)}; QEMU RSS ${p.qemuRssMiB.toFixed(0)} MiB`, goal]);
}
results.scale = curve;

const idle = runs[biggest]!.topo.at(-1)!.idle!;
rows.push([`runner (topo up) idle with ${biggest} nodes`, `${idle.cpuPct.toFixed(2)}% of a core, RSS ${idle.rssMiB.toFixed(0)} MiB`, `< 1%, < ${100 + biggest} MiB`]);
results.runnerIdle = { nodes: biggest, ...idle };

if (!quick) {
  say('boot slots: measured vs fixed');
  const fixed = await cliLab(32, { jobs: 8 });
  const measured = byReady(runs[32]!.topo);
  rows.push(['32 nodes: measured boot slots vs fixed --jobs 8', `${s(measured.readyS)} (${measured.cpuPerBootS.toFixed(2)} CPU-s/boot) vs ${s(fixed.readyS)} (${fixed.cpuPerBootS.toFixed(2)})`, '']);
  results.slots = { measured, fixed8: fixed };
}

for (const n of sizes.filter((x) => x === 16 || x === 64)) {
  const t = median(runs[n]!.topo.map((p) => p.teardownS));
  rows.push([`teardown of ${n} nodes (Ctrl-C to last QEMU gone)`, s(t), n === 64 ? '< 2 s' : '']);
  results[`teardown${n}`] = t;
}

say('package layers');
try {
  const L = JSON.parse((await script('layers.ts', quick ? ['--quick'] : [])).trim().split('\n').at(-1)!) as {
    build: { coldS: number; cachedS: number; phases: Record<string, number>; packages: number; imageMiB: number };
    boot: { without: number[]; with: number[] };
    memory: { nodes: number; without: { pssMiB: number; rssMiB: number }; with: { pssMiB: number; rssMiB: number } };
  };
  results.layers = L;
  const phases = Object.entries(L.build.phases).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ');
  rows.push([`frr layer (${L.build.packages} packages): first build in a fresh cache dir / from cache`, `${s(L.build.coldS)} (${phases}) / ${s(L.build.cachedS)}`, '']);
  rows.push(['frr layer image (erofs)', `${L.build.imageMiB.toFixed(1)} MiB`, '']);
  const [b0, b1] = [median(L.boot.without), median(L.boot.with)];
  rows.push([`boot to ready, 1 node, without vs with the frr layer (median of ${L.boot.with.length}, interleaved)`, `${s(b0)} vs ${s(b1)} (${b1 - b0 >= 0 ? '+' : ''}${(b1 - b0).toFixed(2)} s)`, '<= +0.3 s']);
  const m = L.memory;
  const per = (k: 'pssMiB' | 'rssMiB') => ((m.with[k] - m.without[k]) / m.nodes).toFixed(1);
  rows.push([`${m.nodes} nodes (256M): QEMU PSS without vs with the frr layer`, `${m.without.pssMiB.toFixed(0)} vs ${m.with.pssMiB.toFixed(0)} MiB (${per('pssMiB')} MiB a node; RSS ${per('rssMiB')})`, '']);
} catch (err) {
  rows.push(['package layers', `failed: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`, '']);
}

say('guest-to-guest TCP');
const tput = await guestThroughput(quick ? 16 : 64);
rows.push(['guest-to-guest TCP (busybox nc), direct vs forwarded', `${tput.directMBs.toFixed(1)} vs ${tput.forwardedMBs.toFixed(1)} MB/s (${(tput.forwardedMBs / tput.directMBs).toFixed(2)})`, 'forwarded >= 0.90 of direct']);
results.throughput = tput;

await cleanup();
const w = [Math.max(...rows.map((r) => r[0].length)), Math.max(...rows.map((r) => r[1].length))];
console.log(`${'benchmark'.padEnd(w[0]!)}  ${'result'.padEnd(w[1]!)}  goal`);
for (const r of rows) console.log(`${r[0].padEnd(w[0]!)}  ${r[1].padEnd(w[1]!)}  ${r[2]}`);
console.log(`overhead ratio: ${ratio.toFixed(2)}`);
results.overheadRatio = ratio;
await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
console.log(`results: ${out}`);
