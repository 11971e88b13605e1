// `topo exec` flags that bound a command: a timeout a timer can hold, an output size within the limit.
import { describe, expect, it } from 'vitest';
import { parseMaxOutput, parseTimeout } from '../../src/cli/exec.js';

describe('topo exec flags', () => {
  it('--timeout longer than a timer can hold is refused with a message, not an instant "no reply"', () => {
    expect(() => parseTimeout('30d')).toThrow(expect.objectContaining({ code: 'E_USAGE', message: '--timeout 30d is longer than the longest exec timeout, 24 days' }));
    expect(parseTimeout('24d')).toBe(24 * 24 * 3600 * 1000);
    expect(parseTimeout('0')).toBe(0);
  });

  it('--max-output takes bytes, K or M up to 64M', () => {
    expect([parseMaxOutput('100'), parseMaxOutput('4K'), parseMaxOutput('64M'), parseMaxOutput(undefined)]).toEqual([100, 4096, 64 << 20, undefined]);
    for (const bad of ['65M', '0', '1G', 'lots']) expect(() => parseMaxOutput(bad)).toThrow(/is not a size from 1 to 64M/);
  });
});
