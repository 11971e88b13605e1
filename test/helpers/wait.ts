// The tests' waits: the one retry helper of src/host/wait.ts (no test keeps its own `until` loop).
import { retry } from '../../src/host/wait.js';

export { retry, waitUntil, WaitTimeout } from '../../src/host/wait.js';

/** Waits until `cond` holds; otherwise a WaitTimeout naming `what` (and the last error `cond` threw). */
export async function until(what: string, cond: () => boolean | Promise<boolean>, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<void> {
  await retry(cond, { what, timeoutMs: opts.timeoutMs ?? 5000, intervalMs: opts.intervalMs ?? 20 });
}
