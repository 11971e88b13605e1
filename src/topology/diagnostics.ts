// Diagnostics: problems found in a topology file, located by JSON pointer and mapped to line:column.
import { isAlias, isMap, isPair, isScalar, isSeq, type Alias, type Document, type LineCounter, type Node as YamlNode, type Pair, type YAMLMap } from 'yaml';
import { isMergeKey } from './expand.js';

export interface Diagnostic {
  file: string;
  /** 1-based */
  line: number;
  column: number;
  /** JSON pointer into the document, e.g. /nodes/r1/memory */
  path: string;
  message: string;
  code: string;
}

/** A problem before it has a position: schema and rule checks produce these. */
export interface Issue {
  path: string;
  message: string;
  code: string;
  /** key: point at the map key (unknown keys, fields not allowed); value (default): at the value. */
  at?: 'key' | 'value';
}

export function pointer(...segments: (string | number)[]): string {
  return segments.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

export function splitPointer(path: string): string[] {
  if (path === '') return [];
  return path.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentPointer(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '' : path.slice(0, i);
}

interface Spot {
  key?: number;
  value?: number;
  node?: unknown;
}

/** JSON pointer -> source offsets, built once per document so lookups stay O(1) on big files. */
export class PositionIndex {
  private readonly spots = new Map<string, Spot>();

  /** `aliases` (alias -> anchored node) lets paths reached through aliases and merge keys find their source. */
  constructor(
    doc: Document,
    private readonly lines: LineCounter,
    private readonly aliases: ReadonlyMap<Alias, YamlNode> = new Map(),
  ) {
    this.walk(doc.contents, '', undefined);
  }

  private walk(node: unknown, path: string, keyOffset: number | undefined): void {
    const spot: Spot = { key: keyOffset, node };
    if (node && typeof node === 'object' && 'range' in node) {
      const range = (node as YamlNode).range;
      if (range) spot.value = range[0];
    }
    if (!this.spots.has(path)) this.spots.set(path, spot);
    if (isMap(node)) {
      for (const item of node.items) {
        if (!isPair(item) || isMergeKey(item.key)) continue;
        const key = isScalar(item.key) ? String(item.key.value) : String(item.key);
        const keyOff = isScalar(item.key) ? item.key.range?.[0] : undefined;
        const child = `${path}${pointer(key)}`;
        if (item.value === null || item.value === undefined) {
          if (!this.spots.has(child)) this.spots.set(child, { key: keyOff, value: keyOff });
        } else this.walk(item.value, child, keyOff);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => this.walk(item, `${path}/${i}`, undefined));
    }
  }

  private deref(node: unknown): unknown {
    return isAlias(node) ? this.aliases.get(node) : node;
  }

  /** The pair for `key` in a map: its own, else from its merge keys in order (the first wins, as in the data). */
  private pairOf(map: YAMLMap, key: string, depth: number): Pair | undefined {
    const own = map.items.find((p) => isPair(p) && !isMergeKey(p.key) && isScalar(p.key) && String(p.key.value) === key);
    if (own || depth > 64) return own;
    for (const m of map.items) {
      if (!isPair(m) || !isMergeKey(m.key)) continue;
      const src = this.deref(m.value);
      for (const item of isSeq(src) ? src.items : [m.value]) {
        const source = this.deref(item);
        const found = isMap(source) ? this.pairOf(source, key, depth + 1) : undefined;
        if (found) return found;
      }
    }
    return undefined;
  }

  /** Walk the rest of a path from a node, through aliases and merge keys. */
  private follow(node: unknown, rest: readonly string[]): Spot | undefined {
    let cur = this.deref(node);
    let spot: Spot | undefined;
    for (const seg of rest) {
      if (isMap(cur)) {
        const pair = this.pairOf(cur, seg, 0);
        if (!pair) return undefined;
        const key = isScalar(pair.key) ? pair.key.range?.[0] : undefined;
        cur = this.deref(pair.value);
        spot = { key, value: (cur as YamlNode | undefined)?.range?.[0] ?? key };
      } else if (isSeq(cur) && /^\d+$/.test(seg)) {
        cur = this.deref(cur.items[Number(seg)]);
        if (cur === undefined) return undefined;
        spot = { value: (cur as YamlNode).range?.[0] };
      } else return undefined;
    }
    return spot;
  }

  private pos(off: number): { line: number; column: number } {
    const { line, col } = this.lines.linePos(off);
    return { line, column: col };
  }

  /** Nearest existing ancestor's position when the path itself is absent (e.g. merged from defaults). */
  locate(path: string, at: 'key' | 'value' = 'value'): { line: number; column: number } {
    let p = path;
    let followed = false;
    for (;;) {
      const spot = this.spots.get(p);
      if (spot && p !== path && !followed) {
        // Reached through an alias or a merge key: the value's source is where it is written.
        followed = true;
        const via = this.follow(spot.node, splitPointer(path).slice(splitPointer(p).length));
        const off = via ? (at === 'key' ? (via.key ?? via.value) : (via.value ?? via.key)) : undefined;
        if (off !== undefined) return this.pos(off);
      }
      // An ancestor stands in for a missing path (a required field, a value from defaults): its key reads best.
      const preferKey = at === 'key' || p !== path;
      const off = spot ? (preferKey ? (spot.key ?? spot.value) : (spot.value ?? spot.key)) : undefined;
      if (off !== undefined) return this.pos(off);
      if (p === '') return { line: 1, column: 1 };
      p = parentPointer(p);
    }
  }

  has(path: string): boolean {
    return this.spots.has(path);
  }
}

// Looked up with Object.hasOwn only: path segments are user keys ("constructor" is a valid node name).
const SINGULAR: Record<string, string> = {
  endpoints: 'endpoint',
  addresses: 'address',
  ports: 'port',
  depends_on: 'depends_on',
  run: 'run command',
  steps: 'step',
  collect: 'collect entry',
};

/** Human words for a pointer: /links/1/impair/loss -> "link 2 impair loss". */
export function describePath(path: string): string {
  const seg = splitPointer(path);
  const words: string[] = [];
  for (let i = 0; i < seg.length; i++) {
    const s = seg[i] as string;
    const prev = seg[i - 1];
    if (i === 1 && prev === 'nodes') words.push(`node ${s}`);
    else if (i === 1 && prev === 'links') words.push(`link ${Number(s) + 1}`);
    else if (i === 0 && (s === 'nodes' || s === 'links') && seg.length > 1) continue;
    else if (prev !== undefined && Object.hasOwn(SINGULAR, prev) && /^\d+$/.test(s)) {
      words.pop();
      words.push(`${SINGULAR[prev]} ${Number(s) + 1}`);
    } else words.push(s);
  }
  return words.join(' ');
}

/** "node r1 memory \"12Q\"" — the subject of a message about one value. */
export function subject(path: string, value: unknown): string {
  const where = describePath(path);
  const seg = splitPointer(path);
  const last = seg[seg.length - 1];
  const prev = seg[seg.length - 2];
  const shown = typeof value === 'string' ? JSON.stringify(value) : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
  if (shown === undefined) return where;
  // Array items read better as "link 2 endpoint \"r9:eth1\"" than "link 2 endpoint 1 \"r9:eth1\"".
  if (prev !== undefined && Object.hasOwn(SINGULAR, prev) && last !== undefined && /^\d+$/.test(last)) {
    return `${where.replace(/ \d+$/, '')} ${shown}`.trim();
  }
  return `${where} ${shown}`.trim();
}

// Edit distance with adjacent transpositions (optimal string alignment), hand-written: a dependency for
// fifteen lines is not worth it. A swapped pair (`exce` for `exec`) is the commonest typo: one edit.
export function levenshtein(a: string, b: string): number {
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (before[j - 2] ?? 0) + 1);
      cur[j] = d;
    }
    before = prev;
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** The closest candidate within a typo's reach, if any. */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  // Very short words are one edit from everything; a suggestion there is noise.
  if (word.length < 3) return undefined;
  let best: string | undefined;
  let bestDist = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = levenshtein(word, c);
    if (d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  return best;
}

export function toDiagnostics(file: string, issues: readonly Issue[], index: PositionIndex | undefined): Diagnostic[] {
  return issues.map((i) => {
    const pos = index ? index.locate(i.path, i.at) : { line: 1, column: 1 };
    return { file, line: pos.line, column: pos.column, path: i.path, message: oneLine(i.message), code: i.code };
  });
}

export function sortDiagnostics(list: Diagnostic[]): Diagnostic[] {
  return list.sort((a, b) => a.line - b.line || a.column - b.column || a.message.localeCompare(b.message));
}

// C0/C1 controls (newlines, ESC of terminal sequences), line and paragraph separators, bidi overrides.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** Text from the file made safe for one terminal line: control characters become visible escapes. */
export function oneLine(text: string): string {
  return text.replace(UNPRINTABLE, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${oneLine(d.file)}:${d.line}:${d.column}: error: ${oneLine(d.message)}`;
}
