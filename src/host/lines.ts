// The one bounded line framer: every "\n"-terminated protocol topo reads (control socket, guest agent, QMP)
// splits its byte stream here, so no peer can make the host buffer more than a known amount.

/** Bytes that several framers may hold together (all connections of one control socket). */
export class ByteBudget {
  private used = 0;
  constructor(readonly limit: number) {}

  take(n: number): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    return true;
  }

  give(n: number): void {
    this.used = Math.max(0, this.used - n);
  }

  get inUse(): number {
    return this.used;
  }
}

export interface LineFramerOptions {
  /** Longest line in bytes, newline excluded. */
  max: number;
  onLine: (line: Buffer) => void;
  /** A line grew past `max`: called once with its first `headBytes` (to name what it was), the rest of it is skipped. */
  onTooLong?: (head: Buffer) => void;
  /** Shared with other framers; when it runs out the partial line is dropped and onOverBudget is told. */
  budget?: ByteBudget;
  onOverBudget?: (head: Buffer) => void;
  /** How much of an overlong line onTooLong sees (default 256). */
  headBytes?: number;
}

/** Splits a byte stream into lines without quadratic re-scanning; never holds more than `max` bytes of a partial line. */
export class LineFramer {
  private chunks: Buffer[] = [];
  private size = 0;
  private skipping = false;

  constructor(private readonly opts: LineFramerOptions) {}

  /** Bytes held for an unfinished line. */
  get buffered(): number {
    return this.size;
  }

  /** Returns the bytes after a line when `stopAfterLine` says so (a switch to raw mode); they are not framed. */
  push(chunk: Buffer, stopAfterLine?: () => boolean): Buffer | undefined {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.skipping) {
        this.skipping = false;
        continue;
      }
      if (this.size + piece.length > this.opts.max) {
        const head = this.head(piece);
        this.reset();
        this.opts.onTooLong?.(head);
        continue;
      }
      const line = this.chunks.length === 0 ? piece : Buffer.concat([...this.chunks, piece]);
      this.reset();
      this.opts.onLine(line);
      if (stopAfterLine?.()) return chunk.subarray(start);
    }
    const rest = chunk.subarray(start);
    if (this.skipping || rest.length === 0) return undefined;
    if (this.size + rest.length > this.opts.max) {
      const head = this.head(rest);
      this.reset();
      this.skipping = true;
      this.opts.onTooLong?.(head);
      return undefined;
    }
    if (this.opts.budget && !this.opts.budget.take(rest.length)) {
      const head = this.head(rest);
      this.reset();
      this.skipping = true;
      this.opts.onOverBudget?.(head);
      return undefined;
    }
    this.chunks.push(rest);
    this.size += rest.length;
    return undefined;
  }

  /** Forget the unfinished line (the peer restarted) and give its bytes back to the budget. */
  reset(): void {
    this.opts.budget?.give(this.size);
    this.chunks = [];
    this.size = 0;
  }

  /** The stream ended: release what is held, and skip nothing more. */
  close(): void {
    this.reset();
    this.skipping = false;
  }

  private head(last: Buffer): Buffer {
    const n = this.opts.headBytes ?? 256;
    const parts: Buffer[] = [];
    let got = 0;
    for (const c of [...this.chunks, last]) {
      if (got >= n) break;
      parts.push(c.subarray(0, n - got));
      got += parts.at(-1)!.length;
    }
    return Buffer.concat(parts);
  }
}
