// `waitForConsole` for every lab (and a scenario's `console` step): the first console line matching, read from a
// console byte stream the caller opened (the local console, or the remote `logs` stream).
import type { Readable } from 'node:stream';
import { TopoError } from '../errors.js';
import { LineFramer } from '../host/lines.js';
import { StringDecoder } from 'node:string_decoder';

/** Longest console line matched; a guest printing without newlines cannot grow the buffer (longer lines are skipped). */
const MAX_LINE = 8192;

export interface ConsoleWaitOptions {
  /** Give up after this many ms with E_TIMEOUT; undefined: the caller bounds the wait (and destroys the stream). */
  timeoutMs?: number;
  /** Also match the line still being printed (a prompt waits for input without a newline); its last 8 KiB. */
  partial?: boolean;
}

/** Resolves with the first line of `stream` that `pattern` matches; destroys the stream once settled. */
export function waitForConsoleLine(stream: Readable, pattern: { test(line: string): boolean }, node: string, opts: ConsoleWaitOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err?: Error, line?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.destroy();
      if (err) reject(err);
      else resolve(line!);
    };
    const { timeoutMs } = opts;
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => done(new TopoError(`no console line matching ${String(pattern)} within ${timeoutMs} ms`, { code: 'E_TIMEOUT', node })), timeoutMs);
    const lines = new LineFramer({
      max: MAX_LINE,
      onLine: (b) => {
        const l = b.toString('utf8').replace(/\r$/, '');
        if (pattern.test(l)) done(undefined, l);
      },
    });
    let unfinished = '';
    // A character split between two chunks is joined, not read as two U+FFFD.
    const utf8 = new StringDecoder('utf8');
    stream.on('data', (b: Buffer) => {
      lines.push(b);
      if (!opts.partial || settled) return;
      const text = utf8.write(b);
      const nl = text.lastIndexOf('\n');
      unfinished = (nl >= 0 ? text.slice(nl + 1) : unfinished + text).slice(-MAX_LINE);
      if (unfinished && pattern.test(unfinished)) done(undefined, unfinished);
    });
    // The stream failing to open (no such node, lab gone) is that error; closing before a match is E_NOT_RUNNING.
    stream.on('error', (err) => done(err));
    stream.on('close', () => done(new TopoError('the lab closed the console stream', { code: 'E_NOT_RUNNING', node })));
    stream.resume();
  });
}
