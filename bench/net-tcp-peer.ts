// The far runner of bench/net-tcp.ts, in its own process: a listening TCP link end whose local side is read and
// counted here. argv: SECRET_HEX. Prints "listening PORT", then "FRAMES LAST_READ_EPOCH_MS DROPS" every 20 ms.
import net from 'node:net';
import { socketPair } from '../src/net/socketpair.js';
import { TcpLinkEnd } from '../src/net/tcp-link.js';

const [mine, theirs] = socketPair();
const end = new TcpLinkEnd({
  local: mine, role: 'listen', host: '127.0.0.1', port: 0,
  auth: { lab: 'bench', link: 'l1', epoch: 1, secret: Buffer.from(process.argv[2]!, 'hex') },
});
let frames = 0;
let skip = 0;
let hdr = 0;
let len = 0;
let last = 0;
const sock = new net.Socket({ fd: theirs, readable: true, writable: false });
sock.on('data', (c: Buffer) => {
  let off = 0;
  while (off < c.length) {
    if (skip > 0) { const n = Math.min(skip, c.length - off); skip -= n; off += n; if (skip === 0) frames++; continue; }
    len = len * 256 + c[off++]!;
    if (++hdr === 4) { skip = len; hdr = 0; len = 0; if (skip === 0) frames++; }
  }
  last = performance.timeOrigin + performance.now();
});
await end.start();
process.stdout.write(`listening ${end.address().port}\n`);
setInterval(() => {
  const s = end.stats();
  process.stdout.write(`${frames} ${last} ${s.local.queueDrops}\n`);
}, 20);
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
