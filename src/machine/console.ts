// A node's serial console as a byte stream: one source (QEMU), any number of readers, an input path, a bounded log.
import { EventEmitter } from 'node:events';
import { writeSync, closeSync } from 'node:fs';

/** Longest line matched against ready patterns; a longer run without newline is cut there (bounded CPU and memory). */
export const MAX_LINE = 8192;
/** Bytes kept in memory for `logs` and late readers. */
export const RING_BYTES = 256 * 1024;
/** The console log file stops growing here (with a note): a chatty guest must not fill the disk. */
export const LOG_CAP_BYTES = 64 * 1024 * 1024;

export interface ConsoleEvents {
  data: [Buffer];
  line: [string];
  /** The log file could not be written (disk full, ...): the node must be failed with this reason. */
  fault: [Error];
}

export class ConsoleHub extends EventEmitter<ConsoleEvents> {
  private ring: Buffer[] = [];
  private ringSize = 0;
  private partial: Buffer[] = [];
  private partialSize = 0;
  private logBytes = 0;
  private input?: (b: Buffer) => void;

  /** `logFd`: an fd opened by the run directory (O_NOFOLLOW); owned (and closed) by the hub. */
  constructor(private logFd?: number) {
    super();
  }

  /** Where writes go (the console socket); undefined while QEMU is not running. */
  setInput(write: ((b: Buffer) => void) | undefined): void {
    this.input = write;
  }

  write(bytes: Buffer): boolean {
    if (!this.input) return false;
    this.input(bytes);
    return true;
  }

  /** Bytes from QEMU. */
  push(chunk: Buffer): void {
    this.writeLog(chunk);
    this.ring.push(chunk);
    this.ringSize += chunk.length;
    while (this.ringSize - this.ring[0]!.length >= RING_BYTES) this.ringSize -= this.ring.shift()!.length;
    this.emit('data', chunk);
    this.split(chunk);
  }

  /** What the console printed recently (up to RING_BYTES). */
  recent(): Buffer {
    const all = Buffer.concat(this.ring);
    return all.subarray(Math.max(0, all.length - RING_BYTES));
  }

  /** Flush a trailing unfinished line (QEMU exited). */
  flush(): void {
    if (this.partialSize) this.emitLine(Buffer.concat(this.partial));
    this.partial = [];
    this.partialSize = 0;
  }

  close(): void {
    this.flush();
    if (this.logFd !== undefined) {
      try {
        closeSync(this.logFd);
      } catch {
        // already closed
      }
      this.logFd = undefined;
    }
    this.input = undefined;
  }

  private split(chunk: Buffer): void {
    // Only the new chunk is scanned for newlines: no quadratic re-scanning of a long unfinished line.
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      this.addPartial(chunk.subarray(start, nl));
      this.emitLine(Buffer.concat(this.partial));
      this.partial = [];
      this.partialSize = 0;
      start = nl + 1;
    }
    this.addPartial(chunk.subarray(start));
  }

  private addPartial(part: Buffer): void {
    let rest = part;
    while (this.partialSize + rest.length > MAX_LINE) {
      const take = MAX_LINE - this.partialSize;
      this.partial.push(rest.subarray(0, take));
      this.emitLine(Buffer.concat(this.partial));
      this.partial = [];
      this.partialSize = 0;
      rest = rest.subarray(take);
    }
    if (rest.length) {
      this.partial.push(rest);
      this.partialSize += rest.length;
    }
  }

  private emitLine(bytes: Buffer): void {
    this.emit('line', bytes.toString('utf8').replace(/\r+$/, ''));
  }

  private writeLog(chunk: Buffer): void {
    if (this.logFd === undefined || this.logBytes >= LOG_CAP_BYTES) return;
    try {
      const room = LOG_CAP_BYTES - this.logBytes;
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      // Synchronous: console output is small and a failure must be seen at once, not as an unhandled stream error.
      writeSync(this.logFd, part);
      this.logBytes += part.length;
      if (this.logBytes >= LOG_CAP_BYTES) writeSync(this.logFd, `\n[topo: console log capped at ${LOG_CAP_BYTES >> 20} MiB; later output only in memory]\n`);
    } catch (err) {
      const fd = this.logFd;
      this.logFd = undefined;
      try {
        closeSync(fd);
      } catch {
        // ignore
      }
      this.emit('fault', new Error(`cannot write the console log: ${(err as Error).message}`));
    }
  }
}
