// waitForConsole, one implementation for both labs: lines from a console byte stream however it is chunked.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { TopoError } from '../../src/errors.js';
import { waitForConsoleLine } from '../../src/api/console-wait.js';

describe('waitForConsoleLine', () => {
  it('matches a line split across chunks, without its \\r, and closes the stream', async () => {
    const s = new PassThrough();
    const seen = waitForConsoleLine(s, /^marker-\d+$/, 'a', { timeoutMs: 5000 });
    s.write('noise\r\nmark');
    s.write('er-12');
    s.write('3\r\nmore\n');
    expect(await seen).toBe('marker-123');
    expect(s.destroyed).toBe(true);
  });

  it('no match in time: E_TIMEOUT naming the node and the pattern', async () => {
    const s = new PassThrough();
    const err = await waitForConsoleLine(s, /never/, 'b', { timeoutMs: 50 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_TIMEOUT', node: 'b', message: 'no console line matching /never/ within 50 ms' });
    expect(s.destroyed).toBe(true);
  });

  it('a stream that fails to open rejects with its error; one that closes first is E_NOT_RUNNING', async () => {
    const failing = new PassThrough();
    const p = waitForConsoleLine(failing, /x/, 'c', { timeoutMs: 5000 });
    failing.destroy(new TopoError('no node "c"', { code: 'E_NO_NODE' }));
    await expect(p).rejects.toMatchObject({ code: 'E_NO_NODE' });
    const closing = new PassThrough();
    const q = waitForConsoleLine(closing, /x/, 'c', { timeoutMs: 5000 });
    closing.destroy();
    await expect(q).rejects.toMatchObject({ code: 'E_NOT_RUNNING', node: 'c' });
  });

  it('an endless line without newline is skipped, not buffered; the next line still matches', async () => {
    const s = new PassThrough();
    const seen = waitForConsoleLine(s, /ok/, 'd', { timeoutMs: 5000 });
    s.write(Buffer.alloc(100_000, 0x6f)); // "ooo..." with no "k": over the line limit
    s.write('k\nok\n');
    expect(await seen).toBe('ok');
  });
});

describe('waitForConsoleLine with partial (a scenario console step waiting for a prompt)', () => {
  it('matches the line still being printed, and only with partial', async () => {
    const s = new PassThrough();
    const seen = waitForConsoleLine(s, /login: $/, 'e', { partial: true });
    s.write('Welcome\r\nhost log');
    s.write('in: ');
    expect(await seen).toBe('host login: ');
    const t = new PassThrough();
    const strict = waitForConsoleLine(t, /login: $/, 'e', { timeoutMs: 100 });
    t.write('host login: ');
    await expect(strict).rejects.toMatchObject({ code: 'E_TIMEOUT' });
  });
});
