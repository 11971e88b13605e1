// `waitForConsole` for every lab: the first console line matching, read from a console byte stream the caller opened.
import type { Readable } from 'node:stream';
import { TopoError } from '../errors.js';
import { LineFramer } from '../host/lines.js';

/** Longest console line matched; a guest printing without newlines cannot grow the buffer (longer lines are skipped). */
const MAX_LINE = 8192;

/** Resolves with the first line of `stream` that `re` matches; destroys the stream once settled. */
export function waitForConsoleLine(stream: Readable, re: RegExp, timeoutMs: number, node: string): Promise<string> {
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
    const timer = setTimeout(() => done(new TopoError(`no console line matching ${re} within ${timeoutMs} ms`, { code: 'E_TIMEOUT', node })), timeoutMs);
    const lines = new LineFramer({
      max: MAX_LINE,
      onLine: (b) => {
        const l = b.toString('utf8').replace(/\r$/, '');
        if (re.test(l)) done(undefined, l);
      },
    });
    stream.on('data', (b: Buffer) => lines.push(b));
    // The stream failing to open (no such node, lab gone) is that error; closing before a match is E_NOT_RUNNING.
    stream.on('error', (err) => done(err));
    stream.on('close', () => done(new TopoError('the lab closed the console stream', { code: 'E_NOT_RUNNING', node })));
    stream.resume();
  });
}
