// The one wait helper: poll until something holds or a deadline passes (the NixOS test driver's `retry`), so every
// wait in topo and its tests names what it waited for and why the last try failed.
import { setTimeout as sleep } from 'node:timers/promises';
import { TopoError } from '../errors.js';

export interface RetryOptions {
  /** What is waited for, in words: "the control socket", "pid 1234 to exit". The timeout error names it. */
  what: string;
  /** How long to keep trying, from the first attempt. At least one attempt is always made. */
  timeoutMs: number;
  /** Pause between attempts (default 100 ms); a function of the attempts made so far for a backoff. */
  intervalMs?: number | ((attempts: number) => number);
  /** Aborting rejects with node's AbortError, between attempts (an attempt in progress gets the signal itself if it needs it). */
  signal?: AbortSignal;
  /** Which thrown errors mean "not yet" (default: all); any other ends the wait at once, as is. */
  retryOn?: (err: unknown) => boolean;
  /** Keep the event loop alive while waiting (default true; false for waits that must not hold a process open). */
  ref?: boolean;
}

/** The deadline passed: names what was waited for, how many tries it took, and the last failure if one was thrown. */
export class WaitTimeout extends TopoError {
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
    readonly attempts: number,
    readonly lastError?: unknown,
  ) {
    const last = lastError === undefined ? '' : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
    super(`timed out after ${timeoutMs} ms waiting for ${what}${last}`, { code: 'E_TIMEOUT', cause: lastError });
  }
}

/** "Not yet": the values an attempt returns to be tried again. */
type NotYet = undefined | null | false;

/**
 * Calls `attempt` until it returns something other than undefined, null or false, and returns that. An attempt that
 * throws counts as "not yet" (its error is kept for the timeout's message). No attempt starts, and no pause is taken,
 * that would end past the deadline: the WaitTimeout comes as soon as another try could not finish in time.
 */
export async function retry<T>(attempt: (n: number) => T | NotYet | Promise<T | NotYet>, opts: RetryOptions): Promise<T> {
  const pause = (n: number) => (typeof opts.intervalMs === 'function' ? opts.intervalMs(n) : (opts.intervalMs ?? 100));
  const deadline = Date.now() + opts.timeoutMs;
  if (opts.signal?.aborted) await sleep(0, undefined, { signal: opts.signal });
  let lastError: unknown;
  for (let n = 1; ; n++) {
    try {
      const value = await attempt(n);
      if (value !== undefined && value !== null && value !== false) return value as T;
      lastError = undefined;
    } catch (err) {
      if (opts.retryOn && !opts.retryOn(err)) throw err;
      lastError = err;
    }
    const interval = pause(n);
    if (Date.now() + interval >= deadline) throw new WaitTimeout(opts.what, opts.timeoutMs, n, lastError);
    await sleep(interval, undefined, { signal: opts.signal, ref: opts.ref ?? true });
  }
}

/** As `retry`, but a timeout is an answer (false) rather than an error: for waits whose caller goes on either way. */
export async function waitUntil(check: () => boolean | Promise<boolean>, opts: RetryOptions): Promise<boolean> {
  try {
    return await retry(check, opts);
  } catch (err) {
    if (err instanceof WaitTimeout) return false;
    throw err;
  }
}
