// One link between runners over TCP on loopback vs. the in-process forwarder, 1,500 B and 64 B frames.
// tcp: writer thread -> socketpair -> dialling end (this process) -> TCP + hello -> listening end and reader
// (a second process, as a second runner would be). forwarded: writer -> forwarded link -> reader, all here.
// runners: the path between two `topo node` runners: writer -> forwarded link -> dialling end -> TCP -> listening end
// -> forwarded link -> reader, each runner's forwarder (switch, impairment, counters) on the way.
// Run: npx tsx bench/net-tcp.ts [frames=300000] [rounds=3]

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { createForwardedLink } from '../src/net/forwarder.js';
import { socketPair } from '../src/host/socketpair.js';
import { TcpLinkEnd } from '../src/net/tcp-link.js';
import { READER, WRITER } from './net-workers.js';

interface Result { frames: number; seconds: number; drops: number }

const link = {
  id: 'bench', index: 0, kind: 'p2p' as const, mtu: 1500, capture: false,
  endpoints: [{ node: 'a', iface: 'eth1', mac: '02:00:00:00:00:00' }, { node: 'b', iface: 'eth1', mac: '02:00:00:00:00:01' }],
};

async function forwarded(size: number, count: number): Promise<Result> {
  const shared = new SharedArrayBuffer(24);
  const i32 = new Int32Array(shared);
  const f64 = new Float64Array(shared);
  const fl = createForwardedLink({ link, lab: 'bench' });
  const [txFd, rxFd] = [fl.takeGuestFd(0), fl.takeGuestFd(1)];
  fl.start();
  const drops = () => fl.stats().endpoints.reduce((n, e) => n + e.drops.queue + e.drops.disconnected, 0);
  const reader = new Worker(READER, { eval: true, workerData: { fd: rxFd, shared } });
  await new Promise((r) => reader.once('online', r));
  const writer = new Worker(WRITER, { eval: true, workerData: { fd: txFd, size, count, shared } });
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => Atomics.load(i32, 0) + drops() >= count && (clearInterval(poll), resolve()), 1);
  });
  const r = { frames: Atomics.load(i32, 0), seconds: (f64[2]! - f64[1]!) / 1000, drops: drops() };
  await writer.terminate();
  await reader.terminate();
  await fl.close();
  return r;
}

const tcp = (size: number, count: number): Promise<Result> => overTcp(size, count, false);
const runners = (size: number, count: number): Promise<Result> => overTcp(size, count, true);

async function overTcp(size: number, count: number, runner: boolean): Promise<Result> {
  const secret = randomBytes(32).toString('hex');
  const peer = spawn(process.execPath, ['--import', 'tsx', new URL('./net-tcp-peer.ts', import.meta.url).pathname, secret, ...(runner ? ['runner'] : [])], { stdio: ['pipe', 'pipe', 'inherit'] });
  let state = { frames: 0, last: 0, drops: 0 };
  let buf = '';
  const port = await new Promise<number>((resolve) => peer.stdout.on('data', (c: Buffer) => {
    buf += c.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) {
      const m = /^listening (\d+)$/.exec(l);
      if (m) resolve(Number(m[1]));
      else { const [f, t, d] = l.split(' ').map(Number); state = { frames: f!, last: t!, drops: d! }; }
    }
  }));
  const shared = new SharedArrayBuffer(24);
  const f64 = new Float64Array(shared);
  const fl = runner ? createForwardedLink({ link, lab: 'bench' }) : undefined;
  const [txFd, mine] = fl ? [fl.takeGuestFd(0), fl.takeGuestFd(1)] : socketPair();
  fl?.start();
  const end = new TcpLinkEnd({ local: mine, role: 'dial', host: '127.0.0.1', port, auth: { lab: 'bench', link: 'l1', epoch: 1, secret: Buffer.from(secret, 'hex') } });
  await end.start();
  await new Promise<void>((resolve) => end.once('up', () => resolve()));
  const drops = () => { const s = end.stats(); return s.disconnectedDrops + s.remote.queueDrops + state.drops; };
  const writer = new Worker(WRITER, { eval: true, workerData: { fd: txFd, size, count, shared } });
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => state.frames + drops() >= count && (clearInterval(poll), resolve()), 5);
  });
  const r = { frames: state.frames, seconds: (state.last - f64[1]!) / 1000, drops: drops() };
  await writer.terminate();
  await end.close();
  await fl?.close();
  peer.stdin.end();
  await new Promise((r2) => peer.once('exit', r2));
  return r;
}

const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const fmt = (n: number, d = 2): string => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

const count = Number(process.argv[2] ?? 300_000);
const rounds = Number(process.argv[3] ?? 3);
console.log(`tcp link: ${count} frames per run, ${rounds} rounds, medians; delivered frames over writer start .. last read\n`);
console.log('size   mode         frames/s      Gbit/s    drops');
for (const size of [1500, 64]) {
  for (const [name, run] of [['forwarded', forwarded], ['tcp', tcp], ['runners', runners]] as const) {
    const res: Result[] = [];
    for (let i = 0; i < rounds; i++) res.push(await run(size, count));
    const fps = median(res.map((x) => x.frames / x.seconds));
    console.log(`${String(size).padStart(4)} B ${name.padEnd(10)} ${fmt(fps, 0).padStart(12)} ${fmt((fps * size * 8) / 1e9).padStart(9)} ${String(res.reduce((n, x) => n + x.drops, 0)).padStart(8)}`);
  }
}
