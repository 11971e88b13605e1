// The far runner of bench/net-tcp.ts, in its own process: a listening TCP link end whose local side is read by a
// reader thread (the far QEMU). argv: SECRET_HEX [runner]. With `runner`, a forwarded link sits between the end and
// the reader, as in a `topo node` runner (switch, impairment and counters on the path). Prints "listening PORT", then "FRAMES LAST_READ_EPOCH_MS DROPS"
// every 20 ms until stdin ends.
import { Worker } from 'node:worker_threads';
import { createForwardedLink } from '../src/net/forwarder.js';
import { socketPair } from '../src/host/socketpair.js';
import { TcpLinkEnd } from '../src/net/tcp-link.js';
import { READER } from './net-workers.js';

const runner = process.argv[3] === 'runner';
const fl = runner ? createForwardedLink({ lab: 'bench', link: {
  id: 'l1', index: 0, kind: 'p2p', mtu: 1500, capture: false,
  endpoints: [{ node: 'a', iface: 'eth1', mac: '02:00:00:00:00:00' }, { node: 'b', iface: 'eth1', mac: '02:00:00:00:00:01' }],
} }) : undefined;
const [mine, theirs] = fl ? [fl.takeGuestFd(0), fl.takeGuestFd(1)] : socketPair();
fl?.start();
const end = new TcpLinkEnd({
  local: mine, role: 'listen', host: '127.0.0.1', port: 0,
  auth: { lab: 'bench', link: 'l1', epoch: 1, secret: Buffer.from(process.argv[2]!, 'hex') },
});
const shared = new SharedArrayBuffer(24);
const i32 = new Int32Array(shared);
const f64 = new Float64Array(shared);
const reader = new Worker(READER, { eval: true, workerData: { fd: theirs, shared } });
await new Promise((r) => reader.once('online', r));
await end.start();
process.stdout.write(`listening ${end.address().port}\n`);
setInterval(() => process.stdout.write(`${Atomics.load(i32, 0)} ${f64[2]} ${end.stats().local.queueDrops}\n`), 20);
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
