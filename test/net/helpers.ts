// Shared test scaffolding: a deterministic clock and Ethernet frame builders.

import type { Clock, TimerHandle } from '../../src/net/clock.js';
import { retry } from '../helpers/wait.js';

interface Timer {
  id: number;
  due: number;
  fn: () => void;
}

/** Timers fire in due order, each seeing now() == its due time, so departure times are exact. */
export class FakeClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers: Timer[] = [];

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = { id: ++this.seq, due: this.t + Math.max(0, ms), fn };
    this.timers.push(timer);
    return timer.id;
  }

  clearTimeout(h: TimerHandle): void {
    this.timers = this.timers.filter((x) => x.id !== h);
  }

  get pending(): number {
    return this.timers.length;
  }

  advance(ms: number): void {
    const target = this.t + ms;
    for (;;) {
      let next: Timer | undefined;
      for (const x of this.timers) if (x.due <= target && (next === undefined || x.due < next.due)) next = x;
      if (next === undefined) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.t = next.due;
      next.fn();
    }
    this.t = target;
  }
}

export function mac(s: string): Buffer {
  return Buffer.from(s.split(':').map((h) => parseInt(h, 16)));
}

export const BROADCAST = 'ff:ff:ff:ff:ff:ff';

/** An Ethernet II frame with a recognisable payload. */
export function ethFrame(dst: string, src: string, payload: string | Buffer, size = 0): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const f = Buffer.alloc(Math.max(14 + body.length, size));
  mac(dst).copy(f, 0);
  mac(src).copy(f, 6);
  f.writeUInt16BE(0x88b5, 12); // IEEE local experimental ethertype
  body.copy(f, 14);
  return f;
}

export function payloadOf(frame: Buffer): string {
  return frame.subarray(14).toString().replace(/\0+$/, '');
}

/** Resolves once cond() holds; the deadline only bounds a hang, it asserts nothing about speed. */
/** The net tests' short waits (frames move in milliseconds): the one retry helper, polled every 2 ms. */
export async function until(cond: () => boolean, what = 'condition', deadlineMs = 5000): Promise<void> {
  await retry(cond, { what, timeoutMs: deadlineMs, intervalMs: 2 });
}

export interface PcapRecord {
  tsSec: number;
  tsUsec: number;
  origLen: number;
  data: Buffer;
}

/** Minimal classic-pcap reader, either byte order. */
export function readPcap(buf: Buffer): { linktype: number; snaplen: number; version: string; records: PcapRecord[] } {
  const magicLE = buf.readUInt32LE(0);
  const le = magicLE === 0xa1b2c3d4;
  if (!le && buf.readUInt32BE(0) !== 0xa1b2c3d4) throw new Error('not a microsecond pcap');
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const u16 = (o: number): number => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const records: PcapRecord[] = [];
  let off = 24;
  while (off < buf.length) {
    const incl = u32(off + 8);
    records.push({ tsSec: u32(off), tsUsec: u32(off + 4), origLen: u32(off + 12), data: buf.subarray(off + 16, off + 16 + incl) });
    off += 16 + incl;
  }
  if (off !== buf.length) throw new Error('truncated record');
  return { linktype: u32(20), snaplen: u32(16), version: `${u16(4)}.${u16(6)}`, records };
}
