// The writer and reader threads of the data-plane benchmarks (they stand in for two QEMUs).
// Plain JS so the workers need no TypeScript loader. Shared slots: [0]=frames read; f64[1]=start, f64[2]=last read.
export const WRITER = `
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

export const READER = `
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

