// Impairments changed on a running link, and the lab-level seed behind their random decisions.
import { afterEach, describe, expect, it } from 'vitest';
import { TopoError } from '../../src/errors.js';
import { createForwardedLink } from '../../src/net/forwarder.js';
import type { Impairment } from '../../src/topology/model.js';
import { BROADCAST, FakeClock, until } from './helpers.js';
import { Harness, NONE, makeLink } from './link-harness.js';

const delay = (delayMs: number): Impairment => ({ ...NONE, delayMs });

describe('ForwardedLink.setImpairment', () => {
  const h = new Harness();
  afterEach(() => h.stop());

  it('impairs one direction of a wire from now on, and clearing lets queued frames arrive on time', async () => {
    const clock = new FakeClock();
    const { fl, vms: [a, b] } = h.start(makeLink(2), { clock });
    expect(fl.getImpairment(1)).toBeUndefined();
    fl.setImpairment(1, delay(10));
    expect(fl.getImpairment(1)).toEqual(delay(10));
    expect(fl.getImpairment(0)).toBeUndefined();
    a!.send(b!.mac, 'towards b: delayed');
    b!.send(a!.mac, 'towards a: not impaired');
    await until(() => a!.frames.length === 1 && fl.stats().endpoints[1]!.impair?.queuedFrames === 1, 'a served, b queued');
    fl.setImpairment(1, undefined);
    expect(fl.getImpairment(1)).toBeUndefined();
    expect(fl.stats().endpoints[1]!.impairment).toBeUndefined();
    // The queued frame neither vanished nor jumped ahead: it leaves at its time.
    a!.send(b!.mac, 'after clearing');
    await until(() => fl.stats().endpoints[1]!.impair?.queuedFrames === 2, 'queued behind the delayed one');
    expect(b!.frames).toEqual([]);
    clock.advance(10);
    await until(() => b!.frames.length === 2);
    expect(b!.payloads()).toEqual(['towards b: delayed', 'after clearing']);
    a!.send(b!.mac, 'straight through');
    await until(() => b!.frames.length === 3);
  });

  it('impairs each switch port separately', async () => {
    const { fl, vms: [a, b, c] } = h.start(makeLink(3));
    fl.setImpairment(2, { ...NONE, lossPct: 100 });
    a!.send(BROADCAST, 'one');
    b!.send(BROADCAST, 'two');
    await until(() => a!.frames.length === 1 && b!.frames.length === 1 && fl.stats().endpoints[2]!.drops.loss === 2);
    expect(c!.frames).toEqual([]);
    fl.setImpairment(2, NONE);
    expect(fl.getImpairment(2)).toBeUndefined();
    a!.send(BROADCAST, 'three');
    await until(() => c!.frames.length === 1);
    expect(c!.payloads()).toEqual(['three']);
    expect(fl.stats().endpoints.map((e) => e.drops.loss)).toEqual([0, 0, 2]);
  });

  it('replaces the impairment a link was created with, per direction', async () => {
    const { fl } = h.start(makeLink(2, { impair: delay(40) }));
    fl.setImpairment(0, { ...NONE, lossPct: 1 });
    expect([fl.getImpairment(0), fl.getImpairment(1)]).toEqual([{ ...NONE, lossPct: 1 }, delay(40)]);
  });

  it('rejects a bad value, an unknown endpoint and a closed link in one line each', async () => {
    const { fl } = h.start(makeLink(2));
    const err = (f: () => void): TopoError => {
      try {
        f();
      } catch (e) {
        if (e instanceof TopoError) return e;
      }
      throw new Error('expected a TopoError');
    };
    const bad = err(() => fl.setImpairment(1, { ...NONE, lossPct: 150 }));
    expect([bad.code, bad.message]).toEqual(['NET_IMPAIR', 'link l1 towards r1:eth1: lossPct must be a percentage from 0 to 100, got 150']);
    expect(fl.getImpairment(1)).toBeUndefined();
    expect(err(() => fl.setImpairment(2, delay(1))).message).toBe('link l1 has no endpoint 2');
    await fl.close();
    expect(err(() => fl.setImpairment(0, delay(1))).message).toBe('link l1 is closed');
  });
});

describe('impairment seed', () => {
  const h = new Harness();
  afterEach(() => h.stop());

  /** Which of 300 frames survive 30 % loss towards b (set at start, or at run time), and towards a. */
  async function survivors(opts: { lab?: string; seed?: number; atRunTime?: boolean }): Promise<string> {
    const loss = { ...NONE, lossPct: 30 };
    const link = makeLink(2, opts.atRunTime ? {} : { impair: loss });
    const { fl, vms: [a, b] } = h.start(link, { lab: opts.lab, seed: opts.seed, clock: new FakeClock() });
    if (opts.atRunTime) for (const i of [0, 1]) fl.setImpairment(i, loss);
    for (let i = 0; i < 300; i++) {
      a!.send(b!.mac, `${i}`);
      b!.send(a!.mac, `${i}`);
    }
    await until(() => fl.stats().endpoints.every((e) => e.impair?.in === 300), 'all frames through the impairers');
    const arrived = (): number[] => [a!.frames.length, b!.frames.length];
    await until(() => `${arrived()}` === `${fl.stats().endpoints.map((e) => 300 - e.drops.loss)}`, 'survivors arrived');
    await h.stop();
    return `${b!.payloads().join(',')} / ${a!.payloads().join(',')}`;
  }

  it('replays the same drops for the same seed, in any lab, and differs for another seed', async () => {
    const first = await survivors({ lab: 'lab', seed: 42 });
    expect(first.split(' / ')[0]).not.toBe(first.split(' / ')[1]);
    expect(await survivors({ lab: 'lab', seed: 42 })).toBe(first);
    expect(await survivors({ lab: 'other', seed: 42 })).toBe(first);
    expect(await survivors({ lab: 'lab', seed: 42, atRunTime: true })).toBe(first);
    expect(await survivors({ lab: 'lab', seed: 43 })).not.toBe(first);
  });

  it('derives from the lab name without a seed, as before', async () => {
    const lab = await survivors({ lab: 'lab' });
    expect(await survivors({ lab: 'lab' })).toBe(lab);
    expect(await survivors({ lab: 'other' })).not.toBe(lab);
    expect(await survivors({ lab: 'lab', seed: 0 })).not.toBe(lab);
  });

  it('refuses a seed that is not an integer', () => {
    expect(() => createForwardedLink({ link: makeLink(2), lab: 'lab', seed: 1.5 })).toThrow(
      'link l1: seed must be an integer between -(2^53-1) and 2^53-1, got 1.5',
    );
  });
});
