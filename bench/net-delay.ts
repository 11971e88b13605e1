// How exactly a forwarded link keeps a configured delay on the real clock: one worker thread plays both guests
// (sends paced 64-byte frames, timestamps their arrival on the other end), the relay runs on the main thread.
// A/B in the same run: a direct socketpair and an unimpaired forwarded link show the transport's own share.

import { Worker } from 'node:worker_threads';
import { createForwardedLink } from '../src/net/forwarder.js';
import { NO_IMPAIRMENT } from '../src/net/impair.js';
import { socketPair } from '../src/host/socketpair.js';
import type { ResolvedLink } from '../src/topology/model.js';

// Plain JS so the worker needs no TypeScript loader. Frame: 4-byte length, 14-byte Ethernet header, 4-byte sequence.
const PINGER = `
const { workerData: w, parentPort } = require('node:worker_threads');
const net = require('node:net');
const tx = new net.Socket({ fd: w.txFd, readable: false, writable: true });
const rx = new net.Socket({ fd: w.rxFd, readable: true, writable: false });
const sent = new Float64Array(w.count), got = new Float64Array(w.count);
let received = 0, pending = Buffer.alloc(0), seq = 0;
rx.on('data', (c) => {
  const now = performance.now();
  pending = pending.length > 0 ? Buffer.concat([pending, c]) : c;
  let off = 0;
  while (pending.length - off >= 4 && pending.length - off >= 4 + pending.readUInt32BE(off)) {
    got[pending.readUInt32BE(off + 18)] = now;
    received++;
    off += 4 + pending.readUInt32BE(off);
  }
  pending = pending.subarray(off);
  if (received === w.count) parentPort.postMessage({ sent, got });
});
const tick = setInterval(() => {
  for (let i = 0; i < w.perTick && seq < w.count; i++, seq++) {
    const f = Buffer.alloc(68);
    f.writeUInt32BE(64, 0);
    Buffer.from([2,0,0,0,0,1, 2,0,0,0,0,0, 0x88,0xb5]).copy(f, 4);
    f.writeUInt32BE(seq, 18);
    sent[seq] = performance.now();
    tx.write(f);
  }
  if (seq >= w.count) clearInterval(tick);
}, 1);
`;

interface Latency {
  p50: number;
  p99: number;
  max: number;
  min: number;
}

async function measure(link: ResolvedLink, count: number, delayMs: number | null): Promise<Latency> {
  let txFd: number;
  let rxFd: number;
  let cleanup = async (): Promise<void> => {};
  if (delayMs === null) {
    [txFd, rxFd] = socketPair();
  } else {
    const fl = createForwardedLink({ link, lab: 'bench' });
    if (delayMs > 0) fl.setImpairment(1, { ...NO_IMPAIRMENT, delayMs });
    txFd = fl.takeGuestFd(0);
    rxFd = fl.takeGuestFd(1);
    fl.start();
    cleanup = () => fl.close();
  }
  // 4 frames per 1 ms tick: 10k frames take about 2.5 s, several always in flight in the delay line.
  const worker = new Worker(PINGER, { eval: true, workerData: { txFd, rxFd, count, perTick: 4 } });
  const { sent, got } = await new Promise<{ sent: Float64Array; got: Float64Array }>((r) => worker.once('message', r));
  await worker.terminate();
  await cleanup();
  const errors = Array.from(sent, (t, i) => got[i]! - t - (delayMs ?? 0)).sort((a, b) => a - b);
  const at = (q: number): number => errors[Math.min(errors.length - 1, Math.floor(q * errors.length))]!;
  return { p50: at(0.5), p99: at(0.99), max: errors.at(-1)!, min: errors[0]! };
}

export async function delayTable(link: ResolvedLink, count: number, delayMs: number): Promise<void> {
  console.log(`delay: ${count} frames of 64 B, 4 per ms; latency minus the configured delay, in ms (real clock)\n`);
  console.log('path                          min      p50      p99      max');
  const rows: [string, number | null][] = [
    ['direct socketpair', null], ['forwarded, no delay', 0], [`forwarded, delay ${delayMs} ms`, delayMs],
  ];
  for (const [name, d] of rows) {
    const r = await measure(link, count, d);
    const f = (n: number): string => n.toFixed(3).padStart(8);
    console.log(`${name.padEnd(26)} ${f(r.min)} ${f(r.p50)} ${f(r.p99)} ${f(r.max)}`);
  }
  console.log('');
}
