// Text from a guest made safe to show: terminal sequences and control bytes escaped or dropped, long output cut.
import { StringDecoder } from 'node:string_decoder';

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

/** Per stream: enough for the lines that prove a result, small enough for a JUnit file of hundreds of steps. */
export const OUTPUT_TAIL_BYTES = 4096;

/** The last `max` bytes of a stream, cut at a line start, saying how much went before. */
export function outputTail(b: Buffer, max = OUTPUT_TAIL_BYTES): string {
  if (b.length <= max) return reportText(b.toString('utf8'));
  let start = b.length - max;
  const nl = b.indexOf(0x0a, start);
  if (nl !== -1 && nl < b.length - 1) start = nl + 1;
  return `[${start} earlier bytes not kept]\n${reportText(b.subarray(start).toString('utf8'))}`;
}
