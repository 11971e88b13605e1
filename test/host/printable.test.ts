import { describe, expect, it } from 'vitest';
import { PrintableStream, printable } from '../../src/host/printable.js';

describe('--follow output', () => {
  it("shows a guest's terminal escapes instead of passing them to our terminal", () => {
    expect(printable('\u001b]0;pwned\u0007text\u001b[2J')).toBe('\\x1b]0;pwned\\x07text\\x1b[2J');
    expect(printable('tab\tok é')).toBe('tab\tok é');
  });
});

describe('topo logs on a terminal', () => {
  it('escapes control bytes across chunk boundaries, keeps line ends, and never splits a character', () => {
    const s = new PrintableStream();
    const bytes = Buffer.from('a\r\nb\u001b[2Jé\r\nc\r');
    let out = '';
    for (let i = 0; i < bytes.length; i++) out += s.write(bytes.subarray(i, i + 1));
    out += s.end();
    expect(out).toBe('a\nb\\x1b[2Jé\nc\\x0d');
  });
});
