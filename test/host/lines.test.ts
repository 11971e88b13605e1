// The shared bounded line framer, on its own: lines across chunks, overlong lines skipped whole, a shared budget.
import { describe, expect, it } from 'vitest';
import { ByteBudget, LineFramer } from '../../src/host/lines.js';

function framer(max: number, budget?: ByteBudget) {
  const lines: string[] = [];
  const tooLong: string[] = [];
  const over: string[] = [];
  const f = new LineFramer({
    max,
    headBytes: 4,
    onLine: (l) => lines.push(l.toString()),
    onTooLong: (h) => tooLong.push(h.toString()),
    budget,
    onOverBudget: (h) => over.push(h.toString()),
  });
  return { f, lines, tooLong, over };
}

describe('LineFramer', () => {
  it('gives whole lines, however the chunks fall', () => {
    const { f, lines } = framer(100);
    for (const c of ['ab', 'c\nde', 'f\n\ng', 'h\n']) f.push(Buffer.from(c));
    expect(lines).toEqual(['abc', 'def', '', 'gh']);
    expect(f.buffered).toBe(0);
  });

  it('skips an overlong line to its newline, telling its head once, and goes on with the next', () => {
    const { f, lines, tooLong } = framer(8);
    f.push(Buffer.from('{"id":7,'));
    f.push(Buffer.from('"x":"aaaaaaaa'));
    expect(f.buffered).toBe(0);
    f.push(Buffer.from('aaaaaaaaaaaaaaa'));
    f.push(Buffer.from('aaa"}\nok\n123456789\nlast\n'));
    expect(tooLong).toEqual(['{"id', '1234']);
    expect(lines).toEqual(['ok', 'last']);
  });

  it('takes a line of exactly max bytes', () => {
    const { f, lines, tooLong } = framer(4);
    f.push(Buffer.from('ab'));
    f.push(Buffer.from('cd\nabcd\n'));
    expect([lines, tooLong]).toEqual([['abcd', 'abcd'], []]);
  });

  it('never holds more than the shared budget across framers, and gives bytes back when lines end', () => {
    const budget = new ByteBudget(10);
    const a = framer(100, budget);
    const b = framer(100, budget);
    a.f.push(Buffer.from('123456'));
    b.f.push(Buffer.from('abcdef'));
    expect(b.over).toEqual(['abcd']);
    expect(budget.inUse).toBe(6);
    // b's dropped line is skipped to its end; a's line completes and frees the budget.
    b.f.push(Buffer.from('gh\nnext\n'));
    a.f.push(Buffer.from('7\n'));
    expect([a.lines, b.lines, budget.inUse]).toEqual([['1234567'], ['next'], 0]);
    a.f.push(Buffer.from('12345'));
    a.f.close();
    expect(budget.inUse).toBe(0);
  });

  it('hands back the bytes after a line when asked to stop (switch to raw)', () => {
    const { f, lines } = framer(100);
    expect(f.push(Buffer.from('hello\nraw\nbytes'), () => true)?.toString()).toBe('raw\nbytes');
    expect(lines).toEqual(['hello']);
  });
});
