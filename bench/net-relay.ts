// A/B: frames/s through a runner-forwarded 2-endpoint link vs. a direct socketpair, same run, same harness.
// Writer and reader run in worker threads (like two QEMUs), the relay on the main thread (like the runner).
// Run: npx tsx bench/net-relay.ts [frames=1000000]

import { Worker } from 'node:worker_threads';
import { createForwardedLink } from '../src/net/forwarder.js';
import { socketPair } from '../src/net/socketpair.js';
import type { ResolvedLink } from '../src/topology/model.js';

// Plain JS so the workers need no TypeScript loader. Shared slots: [0]=frames read; f64[1]=start, f64[2]=last read.
const WRITER = `
const { workerData: w, parentPort } = require('node:worker_threads');
const net = require('node:net');
const f64 = new Float64Array(w.shared);
const per = Math.max(1, Math.floor(65536 / (w.size + 4)));
const one = Buffer.alloc(w.size + 4, 0x42);
one.writeUInt32BE(w.size, 0);
// A unicast Ethernet header, so the relay sees a plausible frame.
Buffer.from([2,0,0,0,0,1, 2,0,0,0,0,0, 0x88,0xb5]).copy(one, 4);
const batch = Buffer.concat(Array(per).fill(one));
const sock = new net.Socket({ fd: w.fd, readable: false, writable: true });
sock.on('error', () => {});
let left = w.count;
f64[1] = performance.timeOrigin + performance.now();
function pump() {
  while (left > 0) {
    const n = Math.min(per, left);
    left -= n;
    const ok = sock.write(n === per ? batch : batch.subarray(0, n * one.length));
    if (!ok) return void sock.once('drain', pump);
  }
  sock.end(() => parentPort.postMessage('done'));
}
pump();
`;

const READER = `
const { workerData: w } = require('node:worker_threads');
const net = require('node:net');
const i32 = new Int32Array(w.shared);
const f64 = new Float64Array(w.shared);
const sock = new net.Socket({ fd: w.fd, readable: true, writable: false });
sock.on('error', () => {});
let frames = 0, skip = 0, hdr = 0, len = 0;
sock.on('data', (c) => {
  let off = 0;
  while (off < c.length) {
    if (skip > 0) { const n = Math.min(skip, c.length - off); skip -= n; off += n; if (skip === 0) frames++; continue; }
    len = len * 256 + c[off++];
    if (++hdr === 4) { skip = len; hdr = 0; len = 0; if (skip === 0) frames++; }
  }
  Atomics.store(i32, 0, frames);
  f64[2] = performance.timeOrigin + performance.now();
});
`;

interface Result {
  frames: number;
  seconds: number;
  drops: number;
}

async function runOnce(mode: 'direct' | 'forwarded', size: number, count: number): Promise<Result> {
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
    const link: ResolvedLink = {
      id: 'bench', index: 0, kind: 'p2p', mtu: 1500, capture: false,
      endpoints: [
        { node: 'a', iface: 'eth1', mac: '02:00:00:00:00:00' },
        { node: 'b', iface: 'eth1', mac: '02:00:00:00:00:01' },
      ],
    };
    const fl = createForwardedLink({ link, lab: 'bench' });
    txFd = fl.takeGuestFd(0);
    rxFd = fl.takeGuestFd(1);
    fl.start();
    drops = () => fl.stats().endpoints.reduce((n, e) => n + e.txDrops, 0);
    cleanup = () => fl.close();
  }
  const reader = new Worker(READER, { eval: true, workerData: { fd: rxFd, shared } });
  await new Promise((r) => reader.once('online', r));
  const writer = new Worker(WRITER, { eval: true, workerData: { fd: txFd, size, count, shared } });
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (Atomics.load(i32, 0) + drops() >= count) {
        clearInterval(poll);
        resolve();
      }
    }, 1);
  });
  const result = { frames: Atomics.load(i32, 0), seconds: (f64[2]! - f64[1]!) / 1000, drops: drops() };
  await writer.terminate();
  await reader.terminate();
  await cleanup();
  return result;
}

const fmt = (n: number, d = 2): string => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 1_000_000);
  const rounds = 3;
  console.log(`frames per run: ${count}; best of ${rounds} alternating rounds; writer/reader in worker threads\n`);
  console.log('size   mode        frames/s      Gbit/s   drops');
  for (const size of [1500, 64]) {
    const best: Record<string, Result & { fps: number }> = {};
    for (let r = 0; r < rounds; r++) {
      for (const mode of ['direct', 'forwarded'] as const) {
        const res = await runOnce(mode, size, count);
        const fps = res.frames / res.seconds;
        if (best[mode] === undefined || fps > best[mode].fps) best[mode] = { ...res, fps };
      }
    }
    for (const mode of ['direct', 'forwarded']) {
      const b = best[mode]!;
      console.log(`${String(size).padStart(4)} B ${mode.padEnd(10)} ${fmt(b.fps, 0).padStart(11)} ${fmt((b.fps * size * 8) / 1e9).padStart(9)} ${String(b.drops).padStart(7)}`);
    }
    console.log(`       forwarded/direct: ${fmt(best.forwarded!.fps / best.direct!.fps)}\n`);
  }
}

await main();
