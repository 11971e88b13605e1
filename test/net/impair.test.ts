import { describe, expect, it } from 'vitest';
import { Impairer, hasImpairment } from '../../src/net/impair.js';
import { impairSeed } from '../../src/net/rng.js';
import type { Impairment } from '../../src/topology/model.js';
import { FakeClock } from './helpers.js';

const NONE: Impairment = {
  delayMs: 0, jitterMs: 0, lossPct: 0, rateBps: 0, duplicatePct: 0, reorderPct: 0, corruptPct: 0,
};

interface Out {
  frame: Buffer;
  at: number;
}

function setup(imp: Partial<Impairment>, seed = 'lab\u0000l1\u0000to a', extra: { maxBacklogFrames?: number; reorderHoldMs?: number } = {}) {
  const clock = new FakeClock();
  const out: Out[] = [];
  const im = new Impairer({
    impairment: { ...NONE, ...imp }, seed, clock, deliver: (frame) => out.push({ frame, at: clock.now() }), ...extra,
  });
  return { clock, out, im };
}

/** Frame i: a 4-byte sequence number then padding. */
function seqFrame(i: number, size = 64): Buffer {
  const f = Buffer.alloc(size);
  f.writeUInt32BE(i, 0);
  return f;
}
const seqOf = (o: Out): number => o.frame.readUInt32BE(0);

describe('Impairer', () => {
  it('knows when a link is not impaired at all', () => {
    expect(hasImpairment(undefined)).toBe(false);
    expect(hasImpairment(NONE)).toBe(false);
    expect(hasImpairment({ ...NONE, jitterMs: 1 })).toBe(true);
  });

  it('passes everything through synchronously with 0 % loss and no delay', () => {
    const { out, im, clock } = setup({ lossPct: 0 });
    for (let i = 0; i < 1000; i++) im.push(seqFrame(i));
    expect(out.map(seqOf)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(clock.pending).toBe(0);
  });

  it('drops everything at 100 % loss', () => {
    const { out, im } = setup({ lossPct: 100 });
    for (let i = 0; i < 1000; i++) im.push(seqFrame(i));
    expect(out).toEqual([]);
    expect(im.stats().lost).toBe(1000);
  });

  it.each([1, 10, 33, 50])('loses about %i %% of 10k frames', (pct) => {
    const { out, im } = setup({ lossPct: pct });
    for (let i = 0; i < 10_000; i++) im.push(seqFrame(i));
    // Binomial sd <= 50 frames at n=10k; 4 sd is a tolerance no correct PRNG misses for a fixed seed.
    expect(Math.abs(10_000 - out.length - pct * 100)).toBeLessThan(200);
    expect(im.stats().lost + out.length).toBe(10_000);
  });

  it('makes identical decisions for an identical seed, different ones for another direction', () => {
    const run = (seed: string): string => {
      const { out, im, clock } = setup({ lossPct: 20, duplicatePct: 5, corruptPct: 5, reorderPct: 5, delayMs: 10, jitterMs: 5 }, seed);
      for (let i = 0; i < 2000; i++) {
        im.push(seqFrame(i));
        clock.advance(0.5);
      }
      clock.advance(1000);
      return out.map((o) => `${seqOf(o)}@${o.at}:${o.frame.toString('hex')}`).join(',');
    };
    const a = run(impairSeed('lab', 'l1', 'to r1:eth1'));
    expect(run(impairSeed('lab', 'l1', 'to r1:eth1'))).toBe(a);
    expect(run(impairSeed('lab', 'l1', 'to r2:eth1'))).not.toBe(a);
  });

  it('keeps loss decisions independent of other impairments', () => {
    const survivors = (imp: Partial<Impairment>): number[] => {
      const { out, im, clock } = setup(imp);
      for (let i = 0; i < 500; i++) im.push(seqFrame(i));
      clock.advance(1000);
      return [...new Set(out.map(seqOf))].sort((x, y) => x - y);
    };
    expect(survivors({ lossPct: 30, jitterMs: 3, delayMs: 5 })).toEqual(survivors({ lossPct: 30 }));
  });

  it('duplicates about N % of frames, the copy right after the original', () => {
    const { out, im } = setup({ duplicatePct: 25 });
    for (let i = 0; i < 4000; i++) im.push(seqFrame(i));
    const dups = out.length - 4000;
    expect(dups).toBe(im.stats().duplicated);
    expect(Math.abs(dups - 1000)).toBeLessThan(150);
    const seqs = out.map(seqOf);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]! - seqs[i - 1]!).toBeLessThanOrEqual(1);
  });

  it('corrupts by flipping exactly one bit, and never the sender\'s buffer', () => {
    const { out, im } = setup({ corruptPct: 100 });
    const originals: Buffer[] = [];
    for (let i = 0; i < 500; i++) {
      const f = Buffer.alloc(60 + (i % 1400), 0x5a);
      f.writeUInt32BE(i, 0);
      originals.push(Buffer.from(f));
      im.push(f);
      expect(f.equals(originals[i]!)).toBe(true);
    }
    let sawHeaderBit = false;
    let sawTail = false;
    out.forEach((o, i) => {
      const orig = originals[i]!;
      expect(o.frame.length).toBe(orig.length);
      let bits = 0;
      for (let b = 0; b < orig.length; b++) {
        const x = o.frame[b]! ^ orig[b]!;
        if (x !== 0 && b < 14) sawHeaderBit = true;
        if (x !== 0 && b >= orig.length - 64) sawTail = true;
        for (let v = x; v !== 0; v &= v - 1) bits++;
      }
      expect(bits).toBe(1);
    });
    expect(sawHeaderBit && sawTail).toBe(true);
  });

  it('reorders: a held frame goes out right after the next one', () => {
    const { out, im } = setup({ reorderPct: 100 });
    for (let i = 0; i < 6; i++) im.push(seqFrame(i));
    // 0 held, 1 releases it; 2 held, 3 releases; ...
    expect(out.map(seqOf)).toEqual([1, 0, 3, 2, 5, 4]);
    expect(im.stats().reordered).toBe(3);
  });

  it('releases a held frame alone when no successor comes', () => {
    const { out, im, clock } = setup({ reorderPct: 100 }, undefined, { reorderHoldMs: 5 });
    im.push(seqFrame(7));
    clock.advance(4.9);
    expect(out).toEqual([]);
    clock.advance(0.1);
    expect(out.map((o) => [seqOf(o), o.at])).toEqual([[7, 5]]);
  });

  it('reorders about N % of frames', () => {
    const { out, im, clock } = setup({ reorderPct: 10 });
    for (let i = 0; i < 5000; i++) im.push(seqFrame(i));
    clock.advance(100);
    const seqs = out.map(seqOf);
    expect([...seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    const inversions = seqs.filter((s, i) => i > 0 && s < seqs[i - 1]!).length;
    // The last held frame may have gone out alone on the hold timer, without an inversion.
    expect(inversions).toBeGreaterThanOrEqual(im.stats().reordered - 1);
    expect(inversions).toBeLessThanOrEqual(im.stats().reordered);
    expect(Math.abs(inversions - 5000 * 0.1 * 0.9)).toBeLessThan(120);
  });

  it('delays by exactly delayMs without jitter', () => {
    const { out, im, clock } = setup({ delayMs: 20 });
    im.push(seqFrame(0));
    clock.advance(3);
    im.push(seqFrame(1));
    clock.advance(16.9);
    expect(out).toEqual([]);
    clock.advance(100);
    expect(out.map((o) => [seqOf(o), o.at])).toEqual([[0, 20], [1, 23]]);
  });

  it('jitters within ±jitter, never negative, and never reorders by itself', () => {
    const { out, im, clock } = setup({ delayMs: 10, jitterMs: 8 });
    const sentAt: number[] = [];
    for (let i = 0; i < 2000; i++) {
      sentAt.push(clock.now());
      im.push(seqFrame(i));
      clock.advance(0.25);
    }
    clock.advance(100);
    expect(out.map(seqOf)).toEqual(sentAt.map((_, i) => i));
    const delays = out.map((o) => o.at - sentAt[seqOf(o)]!);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(2);
    // FIFO clamping may hold a frame behind a slower predecessor, but never past its max.
    expect(Math.max(...delays)).toBeLessThanOrEqual(18);
    for (let i = 1; i < out.length; i++) expect(out[i]!.at).toBeGreaterThanOrEqual(out[i - 1]!.at);
  });

  it('spreads sparse traffic uniformly over delay ± jitter', () => {
    const { out, im, clock } = setup({ delayMs: 10, jitterMs: 8 });
    // 20 ms apart: more than the jitter window, so FIFO clamping never kicks in.
    for (let i = 0; i < 1000; i++) {
      im.push(seqFrame(i));
      clock.advance(20);
    }
    const delays = out.map((o) => o.at - seqOf(o) * 20);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...delays)).toBeLessThanOrEqual(18);
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    expect(Math.abs(mean - 10)).toBeLessThan(0.6);
    // Each quarter of the window gets a fair share.
    for (let q = 0; q < 4; q++) {
      const n = delays.filter((d) => d >= 2 + q * 4 && d < 6 + q * 4).length;
      expect(n).toBeGreaterThan(180);
    }
  });

  it('clamps jitter larger than the delay at zero delay', () => {
    const { out, im, clock } = setup({ delayMs: 1, jitterMs: 50 });
    for (let i = 0; i < 200; i++) im.push(seqFrame(i));
    clock.advance(100);
    expect(out).toHaveLength(200);
    expect(out[0]!.at).toBeGreaterThanOrEqual(0);
  });

  it('rate-limits by serialization time: 1500 B at 12 Mbit/s depart 1 ms apart', () => {
    const { out, im, clock } = setup({ rateBps: 12_000_000 });
    for (let i = 0; i < 10; i++) im.push(seqFrame(i, 1500));
    clock.advance(50);
    expect(out.map((o) => o.at)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // An idle link starts serializing at once.
    clock.advance(50);
    im.push(seqFrame(99, 750));
    clock.advance(10);
    expect(out.at(-1)!.at).toBe(100.5);
  });

  it('adds propagation delay after serialization', () => {
    const { out, im, clock } = setup({ rateBps: 12_000_000, delayMs: 5 });
    for (let i = 0; i < 3; i++) im.push(seqFrame(i, 1500));
    clock.advance(50);
    expect(out.map((o) => o.at)).toEqual([6, 7, 8]);
  });

  it('drops beyond the rate-limit backlog bound', () => {
    const { out, im, clock } = setup({ rateBps: 12_000_000 }, undefined, { maxBacklogFrames: 100 });
    for (let i = 0; i < 150; i++) im.push(seqFrame(i, 1500));
    expect(im.stats().queueDrops).toBe(50);
    clock.advance(1000);
    expect(out.map(seqOf)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    // Backlog drained: accepted again.
    im.push(seqFrame(500, 1500));
    clock.advance(10);
    expect(out.at(-1)!.frame.readUInt32BE(0)).toBe(500);
  });

  it('discards its queue on close', () => {
    const { out, im, clock } = setup({ delayMs: 10 });
    im.push(seqFrame(0));
    im.close();
    im.push(seqFrame(1));
    clock.advance(100);
    expect(out).toEqual([]);
    expect(clock.pending).toBe(0);
  });
});
