// The relay's per-frame CPU path without sockets: FramePort decode -> 'frame' -> FramePort send, with and without
// counters. No syscalls, so counting's share of the work is the largest it can be: an upper bound on its cost.

import { readFileSync } from 'node:fs';
import { Duplex } from 'node:stream';
import { encodeFrame } from '../src/net/framing.js';
import { FramePort } from '../src/net/port.js';

/** Accepts writes at once and never produces data: stands in for a socket the kernel always drains. */
class Sink extends Duplex {
  override _read(): void {}
  override _write(_c: Buffer, _e: BufferEncoding, cb: (err?: Error | null) => void): void {
    cb();
  }
}

const threadCpuNs = (): number => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);

function chunkOf(size: number): { chunk: Buffer; frames: number } {
  const one = Buffer.alloc(size, 0x42);
  Buffer.from([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0x88, 0xb5]).copy(one);
  const frames = Math.max(1, Math.floor(65536 / (size + 4)));
  return { chunk: Buffer.concat(Array.from({ length: frames }, () => encodeFrame(one))), frames };
}

async function nsPerFrame(counters: boolean, size: number, count: number): Promise<number> {
  const src = new Sink();
  const input = new FramePort(src, { counters });
  const output = new FramePort(new Sink(), { counters, maxQueueBytes: Number.MAX_SAFE_INTEGER });
  input.on('frame', (f) => output.send(f));
  const { chunk, frames } = chunkOf(size);
  const t0 = threadCpuNs();
  for (let sent = 0; sent < count; sent += frames) {
    src.emit('data', chunk);
    // Let the port flush its batch as it would between socket reads.
    if ((sent / frames) % 16 === 15) await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setImmediate(r));
  const ns = (threadCpuNs() - t0) / count;
  input.close();
  output.close();
  return ns;
}

export async function hotPathTable(count: number, rounds: number): Promise<void> {
  const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  console.log(`relay hot path without sockets (decode, count, encode): ${count} frames per run, ${rounds} paired rounds, CPU ns/frame\n`);
  console.log('size    counters   no counters   counters cost (median of paired ratios)');
  for (const size of [1500, 64]) {
    const on: number[] = [];
    const off: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // Alternate which goes first so warm-up and drift favour neither.
      if (r % 2 === 0) {
        on.push(await nsPerFrame(true, size, count));
        off.push(await nsPerFrame(false, size, count));
      } else {
        off.push(await nsPerFrame(false, size, count));
        on.push(await nsPerFrame(true, size, count));
      }
    }
    const cost = median(on.map((x, i) => x / off[i]! - 1)) * 100;
    console.log(`${String(size).padStart(4)} B ${median(on).toFixed(1).padStart(10)} ${median(off).toFixed(1).padStart(13)} ${cost.toFixed(1).padStart(10)} %`);
  }
  console.log('');
}
