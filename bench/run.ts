// Every benchmark in one run, one table, JSON results with the machine's facts. `npm run bench [-- --quick]`.
import { execa } from 'execa';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureGuest } from '../src/guest/index.js';
import { cleanup, cliUp, guestThroughput, median, plainScript, runnerIdle, scalePoint, teardown, type ScalePoint } from './labs.js';

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

say('single boots');
const single: ScalePoint[] = [];
for (let i = 0; i < 5; i++) single.push(await scalePoint(1));
const bootS = median(single.map((p) => p.readyS));
const bootCpu = median(single.map((p) => p.cpuPerBootS));
rows.push(['default guest boot to ready (median of 5)', `${s(bootS)}, ${bootCpu.toFixed(2)} CPU-s`, '< 1.0 s, < 1.0 CPU-s']);
results.guestBoot = { readyS: single.map((p) => p.readyS), cpuS: single.map((p) => p.cpuPerBootS) };

say('boot cuts A/B');
const ab = (await script('boot-ab.ts', [quick ? '3' : '5'])).trim().split('\n').map((l) => JSON.parse(l) as { variant: string; wallS: number; cpuS: number });
results.bootCuts = ab;
for (const v of [...new Set(ab.map((x) => x.variant))]) {
  const xs = ab.filter((x) => x.variant === v);
  rows.push([`boot cuts: ${v}`, `${s(median(xs.map((x) => x.wallS)))}, ${median(xs.map((x) => x.cpuS)).toFixed(2)} CPU-s (bare QEMU, console only)`, '']);
}

say('overhead: topo up CLI vs a plain script');
const sizes = [1, 4, 16];
const overhead: Record<number, { plain: number[]; topo: number[] }> = {};
for (const n of sizes) {
  overhead[n] = { plain: [], topo: [] };
  const runs = n >= 16 ? (quick ? 1 : 2) : quick ? 2 : 3;
  for (let i = 0; i < runs; i++) {
    // Interleaved A/B, order alternating.
    if (i % 2 === 0) overhead[n].plain.push(await plainScript(n));
    overhead[n].topo.push(await cliUp(n));
    if (i % 2 === 1) overhead[n].plain.push(await plainScript(n));
  }
  const o = overhead[n];
  rows.push([`${n} nodes: topo up vs plain script`, `${s(median(o.topo))} vs ${s(median(o.plain))} (${(median(o.topo) / median(o.plain)).toFixed(2)})`, n === 16 ? 'ratio <= 1.00' : '']);
}
results.overhead = overhead;
const ratio = median(overhead[16]!.topo) / median(overhead[16]!.plain);

say('scale curve');
const curve: ScalePoint[] = [];
const cores = os.availableParallelism();
for (const n of quick ? [2, 4, 8, 16] : [2, 4, 8, 16, 32, 64]) {
  const p = await scalePoint(n);
  curve.push(p);
  const limit = (n * bootCpu) / cores;
  const goal = n === 64 ? 'efficiency >= 0.8' : n === 16 ? 'efficiency >= 0.85' : '';
  rows.push([`${n} nodes ready (ring)`, `${s(p.readyS)}; ${p.cpuPerBootS.toFixed(2)} CPU-s/boot; limit ${s(limit)}; efficiency ${(limit / p.readyS).toFixed(2)}; QEMU RSS ${p.qemuRssMiB.toFixed(0)} MiB`, goal]);
}
results.scale = curve;

const idleN = quick ? 16 : 64;
say(`runner idle with ${idleN} nodes`);
const idle = await runnerIdle(idleN);
rows.push([`runner (detached supervisor) idle with ${idleN} nodes`, `${idle.cpuPct.toFixed(2)}% of a core, RSS ${idle.rssMiB.toFixed(0)} MiB`, `< 1%, < ${100 + idleN} MiB`]);
results.runnerIdle = { nodes: idleN, ...idle };

if (!quick) {
  say('boot slots: measured vs fixed');
  const slotN = 32;
  const fixed = await scalePoint(slotN, 8);
  const measured = await scalePoint(slotN);
  rows.push([`${slotN} nodes: measured boot slots vs fixed --jobs 8`, `${s(measured.readyS)} (${measured.cpuPerBootS.toFixed(2)} CPU-s/boot) vs ${s(fixed.readyS)} (${fixed.cpuPerBootS.toFixed(2)})`, '']);
  results.slots = { measured, fixed8: fixed };
}

say('teardown');
for (const n of quick ? [16] : [16, 64]) {
  const t = await teardown(n);
  rows.push([`teardown of ${n} nodes (Ctrl-C to last process gone)`, s(t), n === 64 ? '< 2 s' : '']);
  results[`teardown${n}`] = t;
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
