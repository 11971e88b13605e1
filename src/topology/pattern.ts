// User patterns (ready.console) run on RE2 (re2js): matching is linear in the line, so no pattern can
// pin the event loop the way `(a+)+$` does under a backtracking engine.
//
// Patterns are written in JavaScript RegExp syntax (no flags), translated by re2js. Differences that remain:
// backreferences and lookaround are rejected (no linear-time engine has them); `.` also matches \r;
// `\s` is ASCII whitespace only; `.` and classes match whole code points rather than UTF-16 halves;
// repeat counts stop at {1000}; RE2 extras such as (?i) are accepted.
import { RE2JS, RE2JSSyntaxException } from 're2js';
import { TopoError } from '../errors.js';

export interface Pattern {
  readonly source: string;
  /** True when the pattern matches anywhere in the line (like RegExp.prototype.test). */
  test(line: string): boolean;
}

/** Longest pattern accepted, in characters. */
export const MAX_PATTERN_LENGTH = 1024;
/** Largest compiled program (RE2 instructions): matching costs at most this much per character. */
export const MAX_PATTERN_PROGRAM = 10_000;

const LINEAR = 'topo matches console patterns in linear time (RE2), which cannot';

/** Constructs JS has and RE2 cannot take, found in the source as written so the offset is the user's. */
function unsupported(source: string): string | undefined {
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    const at = `at character ${i + 1}`;
    if (c === '\\') {
      const n = source[i + 1] ?? '';
      if (!inClass && /[1-9]/.test(n)) return `backreference \\${n} ${at} is not supported: ${LINEAR} refer back to a group; match the text itself instead`;
      if (!inClass && n === 'k' && source[i + 2] === '<') return `named backreference \\k<...> ${at} is not supported: ${LINEAR} refer back to a group; match the text itself instead`;
      i++;
    } else if (inClass) {
      if (c === ']') inClass = false;
    } else if (c === '[') {
      inClass = true;
      // A leading ']' (or '^]') is JS's empty class, not a literal: the class ends there.
      if (source[i + 1] === ']') inClass = false;
    } else if (c === '(' && source[i + 1] === '?') {
      const kind = source.startsWith('(?=', i) || source.startsWith('(?!', i) ? 'lookahead' : source.startsWith('(?<=', i) || source.startsWith('(?<!', i) ? 'lookbehind' : undefined;
      const end = source[i + 2] === '<' ? 4 : 3;
      if (kind) return `${kind} ${source.slice(i, i + end)} ${at} is not supported: ${LINEAR} look around a match; match the surrounding text itself instead`;
    }
  }
  return undefined;
}

function compileOrProblem(source: string): RE2JS | string {
  if (source.length > MAX_PATTERN_LENGTH) return `pattern is ${source.length} characters long; use at most ${MAX_PATTERN_LENGTH}`;
  const why = unsupported(source);
  if (why) return why;
  let re: RE2JS;
  try {
    re = RE2JS.compile(RE2JS.translateRegExp(source));
  } catch (err) {
    if (!(err instanceof RE2JSSyntaxException)) return `not a valid regular expression; escape special characters with a backslash`;
    // The snippet RE2 quotes is shown only when it is the user's own text (translation may have rewritten it).
    const snippet = err.input && source.includes(err.input) ? `: \`${err.input}\`` : '';
    return `not a valid regular expression (${err.error}${snippet}); escape special characters with a backslash`;
  }
  if (re.programSize() > MAX_PATTERN_PROGRAM) {
    return `pattern is too complex (${re.programSize()} steps, at most ${MAX_PATTERN_PROGRAM}); use smaller repeat counts than {1000}`;
  }
  return re;
}

/** Why this pattern cannot be used, in words; undefined when it can. */
export function patternProblem(source: unknown): string | undefined {
  if (typeof source !== 'string') return 'not a regular expression; use a string';
  const r = compileOrProblem(source);
  return typeof r === 'string' ? r : undefined;
}

/** Compile a user pattern; a TopoError (code E_PATTERN, message from patternProblem) when it cannot be used. */
export function compilePattern(source: string): Pattern {
  const r = compileOrProblem(source);
  if (typeof r === 'string') throw new TopoError(`pattern ${JSON.stringify(source)}: ${r}`, { code: 'E_PATTERN' });
  return { source, test: (line: string) => r.test(line) };
}

/** A pattern that matches lines containing `text` literally (topo's own markers). */
export function literalPattern(text: string): Pattern {
  return { source: RE2JS.quote(text), test: (line: string) => line.includes(text) };
}
