import { describe, expect, it } from 'vitest';
import { isTopoError } from '../../src/errors.js';
import { compilePattern, literalPattern, MAX_PATTERN_LENGTH, patternProblem } from '../../src/topology/pattern.js';

describe('compilePattern', () => {
  it('matches a catastrophic-backtracking pattern in linear time instead of freezing', () => {
    // Under RegExp, (a+)+$ against 50,000 a's and a '!' backtracks for longer than the universe lasts.
    const p = compilePattern('(a+)+$');
    expect(p.test(`${'a'.repeat(50_000)}!`)).toBe(false);
    expect(p.test('aaaa')).toBe(true);
    expect(p.source).toBe('(a+)+$');
  });

  // Ordinary patterns keep RegExp's answers: flags none, \d \w \b ASCII, \uXXXX, named groups, [] and [^].
  const PATTERNS = [
    'topo-guest: ready', 'login:', '^Welcome', 'ready$', '^\\s*OK\\b', 'ready in \\d+(\\.\\d+)? ?ms', '\\w+@\\w+:~#',
    '(?<word>boot)ed', 'a|b', 'x{2,3}', '[A-Z][a-z]+ \\d{1,3}%', '\\u0041BC', '\\x41', '[^]', 'a[]', '\\bfoo\\b',
    'Kernel panic - not syncing', 'a.c', '^$', '\\[ *\\d+\\.\\d+\\]', 'eth[0-9]: link up', '\\/dev\\/vda', 'c\\:\\\\',
    '\\t', '[\\-+]\\d', 'é+', '(?:ab)+?c', 'a{,2}', '\\.$', 'ÄÖ',
  ];
  const LINES = [
    '', 'topo-guest: ready', 'Debian GNU/Linux 12 r1 ttyS0', 'r1 login: ', 'Welcome to topo', '  OK  ', 'ready in 12.5 ms',
    'root@r1:~# ', 'booted', 'xxx', '[    0.000000] Linux version 6.1', 'ABC', 'a c', 'abc', 'foo bar', 'éé', 'eth1: link up',
    '/dev/vda1', 'c:\\', '\t', '-5', '+5', 'ababc', 'a{,2}', 'end.', 'ÄÖ', 'Kernel panic - not syncing: Attempted to kill init!',
    'ready', 'aaa', 'ab',
  ];
  it.each(PATTERNS)('%s answers as RegExp does on console lines', (source) => {
    const p = compilePattern(source);
    const re = new RegExp(source);
    for (const line of LINES) expect(p.test(line), JSON.stringify(line)).toBe(re.test(line));
  });

  it('rejects backreferences and lookaround with where they are', () => {
    expect(patternProblem('(ok)\\1')).toMatch(/^backreference \\1 at character 5 is not supported: topo matches console patterns in linear time/);
    expect(patternProblem('(?<n>a)\\k<n>')).toMatch(/^named backreference \\k<\.\.\.> at character 8 is not supported/);
    expect(patternProblem('login(?=:)')).toMatch(/^lookahead \(\?= at character 6 is not supported/);
    expect(patternProblem('a(?!b)')).toMatch(/^lookahead \(\?! at character 2/);
    expect(patternProblem('(?<=a)b')).toMatch(/^lookbehind \(\?<= at character 1/);
    expect(patternProblem('(?<!a)b')).toMatch(/^lookbehind \(\?<! at character 1/);
    // Inside a class these are ordinary characters.
    expect(patternProblem('[(?=]\\d')).toBeUndefined();
  });

  it('explains syntax errors in the pattern the user wrote', () => {
    expect(patternProblem('login: (')).toBe('not a valid regular expression (missing closing ): `login: (`); escape special characters with a backslash');
    expect(patternProblem('[a-')).toMatch(/^not a valid regular expression \(missing closing \]/);
    expect(patternProblem(42)).toBe('not a regular expression; use a string');
  });

  it('bounds the pattern length and the compiled size', () => {
    expect(patternProblem('a'.repeat(MAX_PATTERN_LENGTH + 1))).toBe(`pattern is ${MAX_PATTERN_LENGTH + 1} characters long; use at most ${MAX_PATTERN_LENGTH}`);
    expect(patternProblem('(a{1000})'.repeat(20))).toMatch(/^pattern is too complex \(\d+ steps, at most 10000\)/);
    expect(patternProblem('a'.repeat(MAX_PATTERN_LENGTH))).toBeUndefined();
  });

  it('throws a TopoError carrying the same message', () => {
    let err: unknown;
    try {
      compilePattern('(a)\\1');
    } catch (e) {
      err = e;
    }
    expect(isTopoError(err) && err.code).toBe('E_PATTERN');
    expect((err as Error).message).toBe(`pattern "(a)\\\\1": ${patternProblem('(a)\\1')}`);
  });

  it('literalPattern matches text literally', () => {
    const p = literalPattern('a.b (c)');
    expect(p.test('x a.b (c) y')).toBe(true);
    expect(p.test('axb (c)')).toBe(false);
  });
});
