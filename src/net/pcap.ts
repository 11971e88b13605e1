// Classic libpcap writer (not pcapng): every tool reads it, and it streams with a fixed 16-byte record header.

import { constants, createWriteStream, unlinkSync, type WriteStream } from 'node:fs';

export const PCAP_MAGIC = 0xa1b2c3d4;
export const PCAP_SNAPLEN = 65535;
export const LINKTYPE_ETHERNET = 1;

export interface PcapStats {
  frames: number;
  bytes: number;
  /** Records skipped because the file could not keep up or failed. */
  drops: number;
  error?: string;
}

export interface PcapWriterOptions {
  /** Wall-clock epoch milliseconds (fractional for sub-ms resolution). */
  now?: () => number;
  /** Pending-write bound; capture never gets to stall forwarding or grow memory unboundedly. */
  maxBufferedBytes?: number;
  onError?: (err: Error) => void;
}

export function pcapGlobalHeader(): Buffer {
  const h = Buffer.alloc(24);
  // Little-endian on disk; readers detect byte order from the magic.
  h.writeUInt32LE(PCAP_MAGIC, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeInt32LE(0, 8); // thiszone
  h.writeUInt32LE(0, 12); // sigfigs
  h.writeUInt32LE(PCAP_SNAPLEN, 16);
  h.writeUInt32LE(LINKTYPE_ETHERNET, 20);
  return h;
}

export function pcapRecordHeader(epochMs: number, inclLen: number, origLen: number): Buffer {
  return writeRecordHeader(Buffer.allocUnsafe(16), epochMs, inclLen, origLen);
}

/** Header and a copy of the frame (truncated to the snaplen) in one buffer. */
export function pcapRecord(epochMs: number, frame: Uint8Array): Buffer {
  const incl = Math.min(frame.length, PCAP_SNAPLEN);
  const b = Buffer.allocUnsafe(16 + incl);
  writeRecordHeader(b, epochMs, incl, frame.length);
  b.set(frame.subarray(0, incl), 16);
  return b;
}

function writeRecordHeader(h: Buffer, epochMs: number, inclLen: number, origLen: number): Buffer {
  let sec = Math.floor(epochMs / 1000);
  let usec = Math.round((epochMs - sec * 1000) * 1000);
  if (usec >= 1_000_000) {
    sec++;
    usec -= 1_000_000;
  }
  h.writeUInt32LE(sec >>> 0, 0);
  h.writeUInt32LE(usec, 4);
  h.writeUInt32LE(inclLen, 8);
  h.writeUInt32LE(origLen, 12);
  return h;
}

// Captures often land in shared places: a new file every run, never written through a planted symlink or into a file
// someone else created (an old pcap is unlinked first; if that fails, O_EXCL makes the open fail and onError reports it).
const FRESH_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

function openFresh(file: string): WriteStream {
  try {
    unlinkSync(file);
  } catch {
    // Nothing there, or not ours to remove: the exclusive open below decides.
  }
  // Node passes numeric flags straight to open(2); its types only list strings.
  return createWriteStream(file, { flags: FRESH_FILE as unknown as string });
}

export const wallClockMs = (): number => performance.timeOrigin + performance.now();

export class PcapWriter {
  private readonly stream: WriteStream;
  private readonly now: () => number;
  private readonly maxBuffered: number;
  private readonly st: PcapStats = { frames: 0, bytes: 0, drops: 0 };
  private failed = false;
  private closing: Promise<void> | null = null;

  constructor(readonly path: string, opts: PcapWriterOptions = {}) {
    this.now = opts.now ?? wallClockMs;
    this.maxBuffered = opts.maxBufferedBytes ?? 16 << 20;
    this.stream = openFresh(path);
    this.stream.on('error', (err) => {
      this.failed = true;
      this.st.error = err.message;
      opts.onError?.(err);
    });
    this.stream.write(pcapGlobalHeader());
  }

  stats(): PcapStats {
    return { ...this.st };
  }

  write(frame: Uint8Array, epochMs = this.now()): void {
    if (this.failed || this.closing !== null || this.stream.writableLength > this.maxBuffered) {
      this.st.drops++;
      return;
    }
    const incl = Math.min(frame.length, PCAP_SNAPLEN);
    this.stream.write(pcapRecordHeader(epochMs, incl, frame.length));
    // Copy: callers may reuse their buffer as soon as write() returns.
    this.stream.write(Buffer.from(frame.subarray(0, incl)));
    this.st.frames++;
    this.st.bytes += frame.length;
  }

  /** Flushes and closes the file. Resolves even after a write error (see stats().error). */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      if (this.stream.closed) {
        resolve();
        return;
      }
      this.stream.once('close', () => resolve());
      this.stream.end();
    });
    return this.closing;
  }
}
