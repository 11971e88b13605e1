// Every benchmark in one run, one table, JSON results with the machine's facts. `npm run bench [-- --quick]`.
import { execa } from 'execa';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureGuest } from '../src/guest/index.js';
import { cleanup, cliUp, guestThroughput, median, plainScript, scalePoint, teardown, type ScalePoint } from './labs.js';

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
for (const line of relay.trim().split('\n').filter((l) => /\d/.test(l)).slice(-4)) rows.push(['relay (forwarded vs direct socketpair)', line.trim(), '5 Gbit/s at 1500 B']);

say('single boots');
const single: ScalePoint[] = [];
for (let i = 0; i < 5; i++) single.push(await scalePoint(1));
const bootS = median(single.map((p) => p.readyS));
const bootCpu = median(single.map((p) => p.cpuPerBootS));
rows.push(['default guest boot to ready (median of 5)', `${s(bootS)}, ${bootCpu.toFixed(2)} CPU-s`, '< 1.0 s, < 1.0 CPU-s']);
results.guestBoot = { readyS: single.map((p) => p.readyS), cpuS: single.map((p) => p.cpuPerBootS) };

say('overhead: topo up CLI vs a plain script');
const sizes = [1, 4, 16];
const overhead: Record<number, { plain: number[]; topo: number[] }> = {};
for (const n of sizes) {
  overhead[n] = { plain: [], topo: [] };
  const runs = n >= 16 ? 2 : 3;
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
  const p = await scalePoint(n, n === (quick ? 16 : 64) ? 10_000 : 0);
  curve.push(p);
  const limit = (n * bootCpu) / cores;
  const goal = n === 64 ? 'efficiency >= 0.8' : n === 16 ? 'efficiency >= 0.85' : '';
  rows.push([`${n} nodes ready (ring)`, `${s(p.readyS)}; ${p.cpuPerBootS.toFixed(2)} CPU-s/boot; limit ${s(limit)}; efficiency ${(limit / p.readyS).toFixed(2)}; QEMU RSS ${p.qemuRssMiB.toFixed(0)} MiB`, goal]);
  if (p.runnerRssMiB) rows.push([`runner idle with ${n} nodes`, `${p.runnerIdleCpuPct!.toFixed(2)}% of a core, RSS ${p.runnerRssMiB.toFixed(0)} MiB`, `< 1%, < ${100 + n} MiB`]);
}
results.scale = curve;

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
