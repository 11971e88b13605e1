// Non-interactive output: one plain line per state change (CI logs, pipes, --no-ui), or JSON lines with --json.
import { StringDecoder } from 'node:string_decoder';
import type { SupervisorEvent } from '../runtime/events.js';
import { describeNode } from './format.js';

export interface Reporter {
  handle(event: SupervisorEvent): void;
  /** Free-form lines (summary, errors) on the right stream. */
  print(lines: string[], stream?: 'stdout' | 'stderr'): void;
  close(): Promise<void>;
}

export class PlainReporter implements Reporter {
  constructor(private readonly opts: { follow?: boolean } = {}) {}

  handle(e: SupervisorEvent): void {
    if (e.type === 'node') this.out(`${e.node}: ${describeNode(e)}`);
    else if (e.type === 'notice') this.out(`topo: ${e.message}`);
    else if (e.type === 'console') {
      if (this.opts.follow) this.out(`${e.node} | ${printable(e.line)}`);
    } else if (e.type === 'lab') {
      if (e.state === 'ready') this.out(e.detail ?? 'all nodes ready');
      else if (e.state === 'stopping') this.out('stopping lab');
      else if (e.state === 'stopped') this.out(`lab stopped${e.detail ? ` (${e.detail})` : ''}`);
    }
  }

  print(lines: string[], stream: 'stdout' | 'stderr' = 'stdout'): void {
    for (const l of lines) (stream === 'stdout' ? process.stdout : process.stderr).write(`${l}\n`);
  }

  async close(): Promise<void> {}

  private out(line: string): void {
    process.stdout.write(`${line}\n`);
  }
}

export class JsonReporter implements Reporter {
  constructor(private readonly opts: { follow?: boolean } = {}) {}

  handle(e: SupervisorEvent): void {
    if (e.type === 'console' && !this.opts.follow) return;
    const { error, ...rest } = e as SupervisorEvent & { error?: { code: string; message: string; stderrTail?: string } };
    const out = error ? { ...rest, error: { code: error.code, message: error.message, stderrTail: error.stderrTail } } : rest;
    process.stdout.write(`${JSON.stringify(out)}\n`);
  }

  // JSON mode keeps stdout machine-readable: free-form text always goes to stderr.
  print(lines: string[]): void {
    for (const l of lines) process.stderr.write(`${l}\n`);
  }

  async close(): Promise<void> {}
}

// A whole terminal sequence: CSI (ESC [ ... final byte, e.g. the prompt's cursor query ESC[6n), OSC (ESC ] ... BEL or
// ESC \), or a two-byte ESC X. C1 CSI (0x9b) too.
// eslint-disable-next-line no-control-regex
const SEQUENCE = /(?:\u001b\[|\u009b)[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[ -~]/g;

/**
 * A guest's terminal escapes and control bytes shown, not obeyed (they could move the cursor or retitle the terminal).
 * With `dropSequences`, whole terminal sequences go first (reports: they are noise there), and what is left is shown.
 */
export function printable(line: string, opts: { dropSequences?: boolean } = {}): string {
  const text = opts.dropSequences ? line.replace(SEQUENCE, '') : line;
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Guest text for a text report (failure lines, JUnit, events.jsonl): lines kept, terminal sequences dropped, CRs gone. */
export function reportText(text: string): string {
  return printable(text.replace(/\r+\n/g, '\n').replace(/\r+$/, ''), { dropSequences: true });
}

/**
 * `printable` for a byte stream shown on a terminal (`topo logs`): line ends stay line ends (a CR before LF is
 * dropped), every other control byte is shown escaped. Chunks may split UTF-8 characters and CR LF pairs.
 */
export class PrintableStream {
  private readonly decoder = new StringDecoder('utf8');
  private cr = false;

  write(chunk: Buffer): string {
    return this.text(this.decoder.write(chunk));
  }

  end(): string {
    const rest = this.text(this.decoder.end());
    const cr = this.cr ? printable('\r') : '';
    this.cr = false;
    return rest + cr;
  }

  private text(s: string): string {
    const held = this.cr ? '\r' : '';
    this.cr = s.endsWith('\r');
    const body = held + (this.cr ? s.slice(0, -1) : s);
    return body.split('\n').map((l, i, all) => printable(i < all.length - 1 ? l.replace(/\r$/, '') : l)).join('\n');
  }
}
