import { describe, expect, it } from 'vitest';
import { printable } from '../../src/ui/plain.js';

describe('--follow output', () => {
  it("shows a guest's terminal escapes instead of passing them to our terminal", () => {
    expect(printable('\u001b]0;pwned\u0007text\u001b[2J')).toBe('\\x1b]0;pwned\\x07text\\x1b[2J');
    expect(printable('tab\tok é')).toBe('tab\tok é');
  });
});
