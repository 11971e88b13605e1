// One runner-side end of a link socket: decodes QEMU frames in, encodes frames out, drops on congestion.

import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { ETH_HEADER_LEN, FrameDecoder, MAX_FRAME_LEN, type FramingError } from './framing.js';

export interface PortCounters {
  /** Well-formed frames (at least an Ethernet header) received. */
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  /** Frames not sent: queueDrops + closedDrops. */
  txDrops: number;
  /** Frames not sent because the egress queue was over its bound. */
  queueDrops: number;
  /** Frames not sent because the port was already closed. */
  closedDrops: number;
  /** Input discarded: shorter than an Ethernet header (length 0 included), a bad length, or cut off by the peer's EOF. */
  malformed: number;
  /** Bad lengths only: the stream cannot be resynchronised and the port closed. */
  protocolErrors: number;
}

export const zeroCounters = (): PortCounters => ({
  rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, txDrops: 0, queueDrops: 0, closedDrops: 0, malformed: 0,
  protocolErrors: 0,
});

export function addCounters(a: PortCounters, b: PortCounters): PortCounters {
  const out = zeroCounters();
  for (const k of Object.keys(out) as (keyof PortCounters)[]) out[k] = a[k] + b[k];
  return out;
}

export interface FramePortOptions {
  /** Userland write-queue bound in bytes; beyond it frames are dropped like a full switch queue. */
  maxQueueBytes?: number;
  /** A longer length prefix is a protocol error (default MAX_FRAME_LEN; see maxFrameLenFor). */
  maxFrameLen?: number;
  /** Count frames and bytes (default true); false exists so benchmarks can measure what counting costs. */
  counters?: boolean;
}

export interface FramePortEvents {
  /** A frame of at least an Ethernet header; shorter ones are counted as malformed and skipped. */
  frame: [frame: Buffer];
  /** A length that cannot be trusted (0 is fine: skipped as a runt); the port closes right after. */
  protocolError: [err: FramingError];
  /** The write queue emptied after congested went true. */
  drain: [];
  close: [];
}

export const DEFAULT_MAX_QUEUE_BYTES = 1 << 20;
const SLAB_BYTES = 256 << 10;

export class FramePort extends EventEmitter<FramePortEvents> {
  readonly counters: PortCounters = zeroCounters();
  private readonly maxQueueBytes: number;
  private readonly decoder: FrameDecoder;
  /** Output is encoded into a slab and each tick's batch written as one buffer: far cheaper than a write per frame. */
  private slab = Buffer.allocUnsafe(0);
  private slabOff = 0;
  private batchStart = 0;
  private flushQueued = false;
  private congestedFlag = false;
  private closedFlag = false;
  private readonly counting: boolean;

  constructor(private readonly stream: Duplex, opts: FramePortOptions = {}) {
    super();
    this.maxQueueBytes = opts.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES;
    this.counting = opts.counters !== false;
    // Chosen once, so the uncounted variant pays no per-frame branch for counting.
    const onFrame = this.counting
      ? (frame: Buffer): void => {
        if (frame.length < ETH_HEADER_LEN) return void this.counters.malformed++;
        this.counters.rxFrames++;
        this.counters.rxBytes += frame.length;
        this.emit('frame', frame);
      }
      : (frame: Buffer): void => {
        if (frame.length < ETH_HEADER_LEN) return void this.counters.malformed++;
        this.emit('frame', frame);
      };
    this.decoder = new FrameDecoder(onFrame, (err) => {
      this.counters.malformed++;
      this.counters.protocolErrors++;
      this.emit('protocolError', err);
      this.close();
    }, opts.maxFrameLen ?? MAX_FRAME_LEN);
    stream.on('data', (chunk: Buffer) => this.decoder.push(chunk));
    stream.on('drain', () => {
      this.congestedFlag = false;
      this.emit('drain');
    });
    // A peer that vanished (QEMU killed) shows up as EPIPE/ECONNRESET; that is just a close here.
    stream.on('error', () => this.peerGone());
    stream.on('end', () => this.peerGone());
    stream.on('close', () => this.peerGone());
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Bytes queued in userland, not yet accepted by the kernel. */
  get queuedBytes(): number {
    return this.stream.writableLength + (this.slabOff - this.batchStart);
  }

  /** Past the stream's high-water mark: a sender that can wait should, until 'drain'. */
  get congested(): boolean {
    return this.congestedFlag;
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    if (!this.closedFlag) this.stream.resume();
  }

  /** Returns false when the frame was dropped. Never blocks and never throws. */
  send(frame: Uint8Array): boolean {
    if (this.closedFlag || this.queuedBytes > this.maxQueueBytes) {
      this.counters.txDrops++;
      if (this.closedFlag) this.counters.closedDrops++;
      else this.counters.queueDrops++;
      return false;
    }
    const need = 4 + frame.length;
    if (this.slabOff + need > this.slab.length) {
      this.flush();
      this.slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, need));
      this.slabOff = this.batchStart = 0;
    }
    this.slab.writeUInt32BE(frame.length, this.slabOff);
    this.slab.set(frame, this.slabOff + 4);
    this.slabOff += need;
    if (!this.flushQueued) {
      this.flushQueued = true;
      process.nextTick(() => {
        this.flushQueued = false;
        this.flush();
      });
    }
    if (this.counting) {
      this.counters.txFrames++;
      this.counters.txBytes += frame.length;
    }
    return true;
  }

  private flush(): void {
    if (this.slabOff === this.batchStart || this.closedFlag) return;
    // Written regions of the slab are never touched again, so handing out a view is safe.
    if (!this.stream.write(this.slab.subarray(this.batchStart, this.slabOff))) this.congestedFlag = true;
    this.batchStart = this.slabOff;
  }

  /** The peer ended, failed or vanished: a frame it left half-sent is malformed. */
  private peerGone(): void {
    if (this.closedFlag) return;
    if (this.decoder.pending) this.counters.malformed++;
    this.close();
  }

  /** Idempotent; emits 'close' once. Queued output is discarded: the peer is gone or being replaced. */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.stream.destroy();
    this.emit('close');
  }

  /** Resolves once the underlying fd is really released. */
  async closeAndWait(): Promise<void> {
    this.close();
    if (this.stream.closed) return;
    await new Promise<void>((resolve) => this.stream.once('close', () => resolve()));
  }
}
