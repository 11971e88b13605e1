// A live capture of a link as a byte stream (pcap or pcapng), bounded so a slow reader loses frames, never the link.

import { Readable } from 'node:stream';
import { TopoError } from '../errors.js';
import { pcapGlobalHeader, pcapRecord } from './pcap.js';
import { pcapngInterface, pcapngPacket, pcapngSectionHeader } from './pcapng.js';

export type CaptureFormat = 'pcap' | 'pcapng';

export interface CaptureOptions {
  /** 'pcap' (default): classic libpcap. 'pcapng': one interface per endpoint, frames on the one they came from. */
  format?: CaptureFormat;
  /** Bytes waiting for the reader beyond which new frames are dropped (and counted); default 4 MiB. */
  maxBufferedBytes?: number;
}

export interface CaptureStats {
  format: CaptureFormat;
  /** Frames written to the stream. */
  frames: number;
  bytes: number;
  /** Frames skipped because the reader was too slow. */
  drops: number;
}

export const DEFAULT_CAPTURE_BUFFER = 4 << 20;

export class CaptureStream extends Readable {
  readonly format: CaptureFormat;
  private readonly maxBuffered: number;
  private readonly st: CaptureStats;
  private detach: (() => void) | null;
  private ended = false;

  /** `interfaces`: one name per endpoint, by endpoint index. `detach` is called once when the capture stops. */
  constructor(interfaces: readonly string[], opts: CaptureOptions, detach: () => void) {
    super({ highWaterMark: 64 << 10 });
    const format = opts.format ?? 'pcap';
    if (format !== 'pcap' && format !== 'pcapng') {
      throw new TopoError(`capture format must be "pcap" or "pcapng", got ${JSON.stringify(format)}`, { code: 'NET_CAPTURE' });
    }
    this.format = format;
    this.maxBuffered = opts.maxBufferedBytes ?? DEFAULT_CAPTURE_BUFFER;
    this.st = { format, frames: 0, bytes: 0, drops: 0 };
    this.detach = detach;
    this.push(format === 'pcap'
      ? pcapGlobalHeader()
      : Buffer.concat([pcapngSectionHeader(), ...interfaces.map((n) => pcapngInterface(n))]));
  }

  get frames(): number {
    return this.st.frames;
  }

  get drops(): number {
    return this.st.drops;
  }

  stats(): CaptureStats {
    return { ...this.st };
  }

  /** A frame that entered the link from endpoint `ifIndex`. Never blocks: over the bound it is dropped. */
  record(ifIndex: number, frame: Uint8Array, epochMs: number): void {
    if (this.ended) return;
    if (this.readableLength + frame.length > this.maxBuffered) {
      this.st.drops++;
      return;
    }
    this.st.frames++;
    this.st.bytes += frame.length;
    this.push(this.format === 'pcap' ? pcapRecord(epochMs, frame) : pcapngPacket(ifIndex, epochMs, frame));
  }

  /** Stops capturing; what is buffered is still read, then the stream ends. Idempotent. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.runDetach();
    this.push(null);
  }

  override _read(): void {
    // Push-driven: frames arrive when the link sees them.
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.ended = true;
    this.runDetach();
    cb(err);
  }

  private runDetach(): void {
    const d = this.detach;
    this.detach = null;
    d?.();
  }
}
