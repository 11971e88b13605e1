// Changing an Impairer's settings at run time: nothing already in flight is dropped, reordered or rescheduled.
import { describe, expect, it } from 'vitest';
import { Impairer, NO_IMPAIRMENT, impairmentProblem } from '../../src/net/impair.js';
import type { Impairment } from '../../src/topology/model.js';
import { FakeClock } from './helpers.js';

interface Out {
  seq: number;
  at: number;
}

function setup(imp: Partial<Impairment> | undefined) {
  const clock = new FakeClock();
  const out: Out[] = [];
  const im = new Impairer({
    impairment: imp === undefined ? NO_IMPAIRMENT : { ...NO_IMPAIRMENT, ...imp },
    seed: 'lab\u0000l1\u0000to a',
    clock,
    deliver: (f) => out.push({ seq: f.readUInt32BE(0), at: clock.now() }),
  });
  const push = (seq: number, size = 64): void => {
    const f = Buffer.alloc(size);
    f.writeUInt32BE(seq, 0);
    im.push(f);
  };
  const set = (p: Partial<Impairment> | undefined): void => im.setImpairment(p === undefined ? undefined : { ...NO_IMPAIRMENT, ...p });
  return { clock, out, im, push, set };
}

describe('Impairer.setImpairment', () => {
  it('keeps delayed frames on schedule; new frames take the new delay but never overtake', () => {
    const { clock, out, push, set } = setup({ delayMs: 100 });
    push(0);
    clock.advance(1);
    set({ delayMs: 10 });
    push(1);
    clock.advance(98.9);
    expect(out).toEqual([]);
    clock.advance(0.1);
    // 1 would be due at 11 but waits behind 0: a change never reorders traffic.
    expect(out).toEqual([{ seq: 0, at: 100 }, { seq: 1, at: 100 }]);
    clock.advance(100);
    push(2);
    clock.advance(20);
    expect(out.at(-1)).toEqual({ seq: 2, at: 210 });
  });

  it('lets queued frames drain when cleared, then passes new ones straight through', () => {
    const { clock, out, im, push, set } = setup({ delayMs: 50 });
    push(0);
    push(1);
    set(undefined);
    expect(im.impairment).toEqual(NO_IMPAIRMENT);
    push(2);
    expect(out).toEqual([]);
    clock.advance(50);
    expect(out.map((o) => [o.seq, o.at])).toEqual([[0, 50], [1, 50], [2, 50]]);
    push(3);
    expect(out.at(-1)).toEqual({ seq: 3, at: 50 });
    expect(im.stats()).toMatchObject({ in: 4, out: 4, queuedFrames: 0 });
  });

  it('keeps the rate backlog\'s departures and serializes new frames after it at the new rate', () => {
    const { clock, out, push, set } = setup({ rateBps: 12_000_000 });
    for (let i = 0; i < 3; i++) push(i, 1500);
    set({ rateBps: 6_000_000 });
    push(3, 1500);
    clock.advance(100);
    expect(out.map((o) => o.at)).toEqual([1, 2, 3, 5]);
  });

  it('starts and stops losing frames from the next push on', () => {
    const { out, im, push, set } = setup(undefined);
    push(0);
    set({ lossPct: 100 });
    push(1);
    set(undefined);
    push(2);
    expect(out.map((o) => o.seq)).toEqual([0, 2]);
    expect(im.stats().lost).toBe(1);
  });

  it('releases a frame held for reordering when reordering is switched off', () => {
    const { clock, out, push, set } = setup({ reorderPct: 100 });
    push(0);
    set(undefined);
    push(1);
    clock.advance(10);
    expect(out.map((o) => o.seq)).toEqual([1, 0]);
  });

  it('names what is wrong with an impairment given at run time', () => {
    expect(impairmentProblem(NO_IMPAIRMENT)).toBeNull();
    expect(impairmentProblem({ ...NO_IMPAIRMENT, lossPct: 150 })).toBe('lossPct must be a percentage from 0 to 100, got 150');
    expect(impairmentProblem({ ...NO_IMPAIRMENT, delayMs: -1 })).toBe('delayMs must be a number >= 0, got -1');
    expect(impairmentProblem({ ...NO_IMPAIRMENT, rateBps: Number.NaN })).toBe('rateBps must be a number >= 0, got NaN');
    const partial = { lossPct: 5 } as unknown as Impairment;
    expect(impairmentProblem(partial)).toBe('delayMs must be a number >= 0, got undefined');
  });
});
