// The forwarded data plane, each A/B in the same run with the same harness:
// 1. frames/s through a forwarded 2-endpoint link (with and without counters) vs. a direct socketpair;
// 2. how exactly a configured delay is kept (real clock); 3. how exactly a configured loss rate is kept.
// Writer and reader run in worker threads (like two QEMUs), the relay on the main thread (like the runner).
// Run: npx tsx bench/net-relay.ts [frames=1000000] [rounds=7]

import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { createForwardedLink, type ForwardedLink } from '../src/net/forwarder.js';
import { NO_IMPAIRMENT } from '../src/net/impair.js';
import { socketPair } from '../src/host/socketpair.js';
import type { Impairment, ResolvedLink } from '../src/topology/model.js';
import { delayTable } from './net-delay.js';
import { hotPathTable } from './net-hotpath.js';
import { READER, WRITER } from './net-workers.js';

interface Result {
  frames: number;
  seconds: number;
  drops: number;
  /** CPU time of the main thread (the relay) per frame sent. */
  cpuNs: number;
}

/** This thread's CPU time in ns (schedstat: time actually run, not time waiting for a core on a loaded machine). */
const relayCpuNs = (): number => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);

type Mode = 'direct' | 'forwarded' | 'no counters';

export const benchLink: ResolvedLink = {
  id: 'bench', index: 0, kind: 'p2p', mtu: 1500, capture: false,
  endpoints: [
    { node: 'a', iface: 'eth1', mac: '02:00:00:00:00:00' },
    { node: 'b', iface: 'eth1', mac: '02:00:00:00:00:01' },
  ],
};

const lost = (fl: ForwardedLink): number =>
  fl.stats().endpoints.reduce((n, e) => n + e.drops.loss + e.drops.queue + e.drops.disconnected, 0);

async function runOnce(mode: Mode, size: number, count: number, extra: { impair?: Impairment; seed?: number } = {}): Promise<Result> {
  const shared = new SharedArrayBuffer(24);
  const i32 = new Int32Array(shared);
  const f64 = new Float64Array(shared);
  let txFd: number;
  let rxFd: number;
  let drops = (): number => 0;
  let cleanup = async (): Promise<void> => {};
  if (mode === 'direct') {
    [txFd, rxFd] = socketPair();
  } else {
    const fl = createForwardedLink({ link: benchLink, lab: 'bench', counters: mode === 'forwarded', seed: extra.seed });
    if (extra.impair) fl.setImpairment(1, extra.impair);
    txFd = fl.takeGuestFd(0);
    rxFd = fl.takeGuestFd(1);
    fl.start();
    drops = () => lost(fl);
    cleanup = () => fl.close();
  }
  const reader = new Worker(READER, { eval: true, workerData: { fd: rxFd, shared } });
  await new Promise((r) => reader.once('online', r));
  const cpu0 = relayCpuNs();
  const writer = new Worker(WRITER, { eval: true, workerData: { fd: txFd, size, count, shared } });
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (Atomics.load(i32, 0) + drops() >= count) {
        clearInterval(poll);
        resolve();
      }
    }, 1);
  });
  const cpuNs = (relayCpuNs() - cpu0) / count;
  const result = { frames: Atomics.load(i32, 0), seconds: (f64[2]! - f64[1]!) / 1000, drops: drops(), cpuNs };
  await writer.terminate();
  await reader.terminate();
  await cleanup();
  return result;
}

const fmt = (n: number, d = 2): string => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

async function relayTable(count: number, rounds: number): Promise<void> {
  const modes: Mode[] = ['direct', 'forwarded', 'no counters'];
  console.log(`relay: ${count} frames per run, ${rounds} rounds, mode order rotating; medians per mode. relay CPU = the`);
  console.log('runner thread\'s own CPU time per frame (schedstat), robust to other load; counters cost = median of the');
  console.log('paired per-round ratios forwarded/no counters, by relay CPU and by throughput\n');
  console.log('size   mode           frames/s      Gbit/s   relay CPU ns/frame   drops');
  for (const size of [1500, 64]) {
    const res: Record<Mode, Result[]> = { direct: [], forwarded: [], 'no counters': [] };
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < modes.length; k++) {
        const mode = modes[(r + k) % modes.length]!;
        res[mode].push(await runOnce(mode, size, count));
      }
    }
    const fps = (mode: Mode): number[] => res[mode].map((x) => x.frames / x.seconds);
    for (const mode of modes) {
      const m = median(fps(mode));
      const cpu = mode === 'direct' ? '-' : fmt(median(res[mode].map((x) => x.cpuNs)), 0);
      const drops = res[mode].reduce((n, x) => n + x.drops, 0);
      console.log(`${String(size).padStart(4)} B ${mode.padEnd(12)} ${fmt(m, 0).padStart(12)} ${fmt((m * size * 8) / 1e9).padStart(9)} ${cpu.padStart(20)} ${String(drops).padStart(7)}`);
    }
    const fwd = res.forwarded;
    const bare = res['no counters'];
    const cpuCost = median(fwd.map((x, i) => x.cpuNs / bare[i]!.cpuNs - 1)) * 100;
    const fpsCost = median(fwd.map((x, i) => 1 - (x.frames / x.seconds) / (bare[i]!.frames / bare[i]!.seconds))) * 100;
    console.log(`       forwarded/direct: ${fmt(median(fps('forwarded')) / median(fps('direct')))}; counters cost: relay CPU ${fmt(cpuCost, 1)} %, throughput ${fmt(fpsCost, 1)} %\n`);
  }
}

async function lossTable(count: number): Promise<void> {
  const impair = { ...NO_IMPAIRMENT, lossPct: 20 };
  console.log(`loss: configured 20 % over ${count} frames of 64 B, through the link, per seed\n`);
  console.log('seed   delivered    lost    measured    error (pp)');
  for (const seed of [1, 2, 3, 4, 5]) {
    const res = await runOnce('forwarded', 64, count, { impair, seed });
    const measured = (1 - res.frames / count) * 100;
    console.log(`${String(seed).padStart(4)} ${String(res.frames).padStart(11)} ${String(count - res.frames).padStart(7)} ${fmt(measured, 3).padStart(10)} % ${fmt(measured - 20, 3).padStart(10)}`);
  }
  console.log('');
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 1_000_000);
  const rounds = Number(process.argv[3] ?? 7);
  await relayTable(count, rounds);
  await hotPathTable(500_000, 25);
  await delayTable(benchLink, 10_000, 10);
  await lossTable(100_000);
}

await main();
