import { describe, expect, it } from 'vitest';
import { parseDuration, parsePercent, parseRate, parseSize } from '../../src/topology/units.js';

describe('parseSize (to MiB)', () => {
  it.each([
    [256, 256],
    ['256M', 256],
    ['2G', 2048],
    ['64G', 65536],
  ])('%j -> %d', (v, want) => expect(parseSize(v)).toBe(want));

  it.each(['12Q', '256', '1.5G', '256m', '', ' 256M', -1, 1.5, true, null])('rejects %j', (v) => expect(parseSize(v)).toBeUndefined());
});

describe('parseDuration (to ms)', () => {
  it.each([
    ['500ms', 500],
    ['2s', 2000],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    [90, 90_000],
    ['90', 90_000],
    [0, 0],
  ])('%j -> %d', (v, want) => expect(parseDuration(v)).toBe(want));

  it.each(['40sec', '2d', '2 s', 's', '-1s', -1, {}, null])('rejects %j', (v) => expect(parseDuration(v)).toBeUndefined());
});

describe('parsePercent', () => {
  it.each([
    ['0.5%', 0.5],
    ['0.5', 0.5],
    [1, 1],
    ['100%', 100],
    ['150%', 150],
  ])('%j -> %d', (v, want) => expect(parsePercent(v)).toBe(want));

  it.each(['5 %', 'x%', '5%%', -1])('rejects %j', (v) => expect(parsePercent(v)).toBeUndefined());
});

describe('parseRate (to bit/s)', () => {
  it.each([
    ['500kbit', 500_000],
    ['20mbit', 20_000_000],
    ['1gbit', 1_000_000_000],
    ['64bit', 64],
    ['1.5mbit', 1_500_000],
    ['20Mbit', 20_000_000],
    [1000, 1000],
  ])('%j -> %d', (v, want) => expect(parseRate(v)).toBe(want));

  it.each(['20mbps', '20', '20 mbit', 'mbit', -5])('rejects %j', (v) => expect(parseRate(v)).toBeUndefined());
});
