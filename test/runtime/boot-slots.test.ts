import { afterEach, describe, expect, it, vi } from 'vitest';
import { AdaptiveSlots, fixedSlots, hostIdleSampler } from '../../src/runtime/boot-slots.js';

afterEach(() => vi.useRealTimers());

/** Takes n slots; returns how many were granted after the microtasks ran. */
async function grab(slots: { take(): Promise<void> }, n: number): Promise<() => number> {
  let granted = 0;
  for (let i = 0; i < n; i++) void slots.take().then(() => granted++);
  await Promise.resolve();
  return () => granted;
}

const flush = () => new Promise((r) => setImmediate(r));

describe('fixedSlots', () => {
  it('grants exactly N and hands a released slot to the next waiter', async () => {
    const slots = fixedSlots(2);
    const granted = await grab(slots, 5);
    await flush();
    expect(granted()).toBe(2);
    slots.release();
    await flush();
    expect(granted()).toBe(3);
  });

  it('lets every waiter through on close (the supervisor is stopping)', async () => {
    const slots = fixedSlots(1);
    const granted = await grab(slots, 4);
    slots.close();
    await flush();
    expect(granted()).toBe(4);
  });
});

describe('AdaptiveSlots', () => {
  it('starts with one slot per core and opens one more per interval while a core idles', async () => {
    vi.useFakeTimers();
    const idle = [0, 0.5, 0.5, 0.0];
    const slots = new AdaptiveSlots({ cores: 2, max: 10, intervalMs: 100, sampler: () => idle.shift() ?? 0 });
    const granted = await grab(slots, 8);
    await vi.advanceTimersByTimeAsync(0);
    expect(granted()).toBe(2);
    expect(slots.limit).toBe(2);
    await vi.advanceTimersByTimeAsync(100); // half the host idle = one core: open a slot
    expect(slots.limit).toBe(3);
    expect(granted()).toBe(3);
    await vi.advanceTimersByTimeAsync(100);
    expect(granted()).toBe(4);
    await vi.advanceTimersByTimeAsync(100); // saturated: back towards one per core
    expect(slots.limit).toBe(3);
    expect(granted()).toBe(4);
    slots.close();
  });

  it('never goes below the cores nor above max, and stops sampling without waiters', async () => {
    vi.useFakeTimers();
    let samples = 0;
    const slots = new AdaptiveSlots({ cores: 1, max: 2, intervalMs: 50, sampler: () => (samples++, 1) });
    const granted = await grab(slots, 5);
    await vi.advanceTimersByTimeAsync(500);
    expect(slots.limit).toBe(2);
    expect(granted()).toBe(2);
    for (let i = 0; i < 5; i++) slots.release();
    await vi.advanceTimersByTimeAsync(200);
    expect(granted()).toBe(5);
    const seen = samples;
    await vi.advanceTimersByTimeAsync(1000);
    expect(samples).toBe(seen);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('samples the real host: an idle fraction between 0 and 1', () => {
    const sample = hostIdleSampler();
    const end = Date.now() + 30;
    while (Date.now() < end); // burn a little CPU so the interval has ticks
    const v = sample();
    expect(v).toBeGreaterThanOrEqual(0);
    expect(v).toBeLessThanOrEqual(1);
  });
});
