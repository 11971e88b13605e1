// Time source for the data plane; injectable so impairment tests run on a fake clock and never sleep.

export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds, monotonic, fractional allowed. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, Math.max(0, ms));
    // A pending impairment timer alone must not keep the runner alive.
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};
