import { describe, expect, it } from 'vitest';
import { labSeed } from '../../src/runtime/lab.js';
import { node, topology } from '../helpers/model.js';

describe('the lab seed', () => {
  it("is the file's seed, else derived from the lab name (the same file gives the same seed), and an override wins", () => {
    const named = topology([node('a')], { name: 'alpha' });
    expect(labSeed({ ...named, seed: 42 })).toBe(42);
    expect(labSeed(named)).toBe(labSeed(topology([node('b')], { name: 'alpha' })));
    expect(labSeed(named)).not.toBe(labSeed(topology([node('a')], { name: 'beta' })));
    expect(labSeed({ ...named, seed: 42 }, 7)).toBe(7);
    expect(Number.isInteger(labSeed(named)) && labSeed(named) >= 0 && labSeed(named) <= 0xffffffff).toBe(true);
  });
});
