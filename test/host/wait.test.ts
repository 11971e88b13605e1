// The one wait helper: first success returned, a deadline that names what was waited for, abort, thrown errors retried.
import { describe, expect, it } from 'vitest';
import { isTopoError } from '../../src/errors.js';
import { retry, waitUntil, WaitTimeout } from '../../src/host/wait.js';

describe('retry', () => {
  it('returns the first value that is not undefined, null or false, and stops trying', async () => {
    const seen: number[] = [];
    const v = await retry((n) => (seen.push(n), n === 3 ? 0 : n === 4 ? 'four' : n === 1 ? null : undefined), { what: 'x', timeoutMs: 5000, intervalMs: 1 });
    expect(v).toBe(0);
    expect(seen).toEqual([1, 2, 3]);
  });

  it('waits for an async attempt and returns its value', async () => {
    let n = 0;
    await expect(retry(async () => (++n >= 2 ? { ready: n } : false), { what: 'x', timeoutMs: 5000, intervalMs: 1 })).resolves.toEqual({ ready: 2 });
  });

  it('past the deadline: a WaitTimeout (E_TIMEOUT) naming what was waited for and how many tries it took', async () => {
    let n = 0;
    const err = await retry(() => (n++, false), { what: 'the control socket of lab demo', timeoutMs: 60, intervalMs: 5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeout);
    expect(isTopoError(err) && err.code).toBe('E_TIMEOUT');
    expect((err as Error).message).toBe('timed out after 60 ms waiting for the control socket of lab demo');
    expect((err as WaitTimeout).attempts).toBe(n);
    expect(n).toBeGreaterThan(1);
  });

  it('retries an attempt that throws, and reports its last error at the deadline', async () => {
    let n = 0;
    const err = (await retry(
      () => {
        throw new Error(`ECONNREFUSED try ${++n}`);
      },
      { what: 'pid 42 to exit', timeoutMs: 50, intervalMs: 5 },
    ).catch((e: unknown) => e)) as WaitTimeout;
    expect(n).toBeGreaterThan(1);
    expect(err.message).toBe(`timed out after 50 ms waiting for pid 42 to exit (last error: ECONNREFUSED try ${n})`);
    expect((err.lastError as Error).message).toBe(`ECONNREFUSED try ${n}`);
    expect(err.cause).toBe(err.lastError);
  });

  it('an error retryOn refuses ends the wait at once, as is', async () => {
    let n = 0;
    const fatal = new Error('EACCES');
    const p = retry(
      () => {
        throw ++n === 1 ? new Error('ENOENT') : fatal;
      },
      { what: 'x', timeoutMs: 5000, intervalMs: 1, retryOn: (e) => (e as Error).message === 'ENOENT' },
    );
    await expect(p).rejects.toBe(fatal);
    expect(n).toBe(2);
  });

  it('a thrown error is forgotten once a later attempt just says "not yet"', async () => {
    let n = 0;
    const err = (await retry(
      () => {
        if (++n === 1) throw new Error('first');
        return false;
      },
      { what: 'y', timeoutMs: 40, intervalMs: 5 },
    ).catch((e: unknown) => e)) as WaitTimeout;
    expect(err.lastError).toBeUndefined();
    expect(err.message).toBe('timed out after 40 ms waiting for y');
  });

  it('a function interval is asked for each pause with the attempts made so far (a backoff)', async () => {
    const asked: number[] = [];
    let n = 0;
    await retry(() => ++n === 4, { what: 'x', timeoutMs: 5000, intervalMs: (a) => (asked.push(a), 1) });
    expect(asked).toEqual([1, 2, 3]);
  });

  it('always tries once, even with no time at all', async () => {
    await expect(retry(() => 'now', { what: 'z', timeoutMs: 0 })).resolves.toBe('now');
    await expect(retry(() => false, { what: 'z', timeoutMs: 0 })).rejects.toThrow('timed out after 0 ms waiting for z');
  });

  it('an abort ends the wait between attempts with an AbortError, not a timeout', async () => {
    const ac = new AbortController();
    let n = 0;
    const p = retry(
      () => {
        if (++n === 2) ac.abort();
        return false;
      },
      { what: 'never', timeoutMs: 60_000, intervalMs: 5, signal: ac.signal },
    );
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(n).toBe(2);
  });

  it('an already aborted signal makes no attempt', async () => {
    let n = 0;
    await expect(retry(() => ++n, { what: 'never', timeoutMs: 1000, signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(n).toBe(0);
  });
});

describe('waitUntil', () => {
  it('is true once the check holds, false when time runs out, and lets other errors through', async () => {
    let n = 0;
    expect(await waitUntil(() => ++n === 3, { what: 'a', timeoutMs: 5000, intervalMs: 1 })).toBe(true);
    expect(await waitUntil(() => false, { what: 'b', timeoutMs: 20, intervalMs: 5 })).toBe(false);
    await expect(waitUntil(() => false, { what: 'c', timeoutMs: 5000, intervalMs: 5, signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
  });
});
