// One runner-side end of a link socket: decodes QEMU frames in, encodes frames out, drops on congestion.

import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { FrameDecoder, MAX_FRAME_LEN, type FramingError } from './framing.js';

export interface PortCounters {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  /** Frames not sent: egress queue over its bound, or the port already closed. */
  txDrops: number;
  protocolErrors: number;
}

export const zeroCounters = (): PortCounters => ({
  rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, txDrops: 0, protocolErrors: 0,
});

export function addCounters(a: PortCounters, b: PortCounters): PortCounters {
  return {
    rxFrames: a.rxFrames + b.rxFrames, rxBytes: a.rxBytes + b.rxBytes,
    txFrames: a.txFrames + b.txFrames, txBytes: a.txBytes + b.txBytes,
    txDrops: a.txDrops + b.txDrops, protocolErrors: a.protocolErrors + b.protocolErrors,
  };
}

export interface FramePortOptions {
  /** Userland write-queue bound in bytes; beyond it frames are dropped like a full switch queue. */
  maxQueueBytes?: number;
  maxFrameLen?: number;
}

export interface FramePortEvents {
  frame: [frame: Buffer];
  /** A framing violation; the port closes right after. */
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

  constructor(private readonly stream: Duplex, opts: FramePortOptions = {}) {
    super();
    this.maxQueueBytes = opts.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES;
    this.decoder = new FrameDecoder(
      (frame) => {
        this.counters.rxFrames++;
        this.counters.rxBytes += frame.length;
        this.emit('frame', frame);
      },
      (err) => {
        this.counters.protocolErrors++;
        this.emit('protocolError', err);
        this.close();
      },
      opts.maxFrameLen ?? MAX_FRAME_LEN,
    );
    stream.on('data', (chunk: Buffer) => this.decoder.push(chunk));
    stream.on('drain', () => {
      this.congestedFlag = false;
      this.emit('drain');
    });
    // A peer that vanished (QEMU killed) shows up as EPIPE/ECONNRESET; that is just a close here.
    stream.on('error', () => this.close());
    stream.on('end', () => this.close());
    stream.on('close', () => this.close());
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
    this.counters.txFrames++;
    this.counters.txBytes += frame.length;
    return true;
  }

  private flush(): void {
    if (this.slabOff === this.batchStart || this.closedFlag) return;
    // Written regions of the slab are never touched again, so handing out a view is safe.
    if (!this.stream.write(this.slab.subarray(this.batchStart, this.slabOff))) this.congestedFlag = true;
    this.batchStart = this.slabOff;
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
