// YAML document -> plain data in one linear pass: aliases resolved through one anchor table (yaml's own
// resolution rescans the document per alias), merge keys applied, and the expanded size bounded as it grows.
import { isAlias, isMap, isPair, isScalar, isSeq, type Alias, type Document, type Node as YamlNode } from 'yaml';
import { LIMITS, formatBytes } from './limits.js';

export interface ExpandProblem {
  /** Source offset the problem is reported at. */
  offset: number;
  message: string;
  code: string;
}

export interface Expanded {
  /** Undefined when a problem stops the expansion. */
  data: unknown;
  /** Alias -> the anchored node it stands for (positions of merged and aliased values). */
  aliases: ReadonlyMap<Alias, YamlNode>;
  problems: ExpandProblem[];
}

class Stop extends Error {}

const fmt = (n: number) => n.toLocaleString('en-US');

export function isMergeKey(key: unknown): boolean {
  return isScalar(key) && typeof key.value === 'symbol' && key.value.description === '<<';
}

// Own-property definition: a key named __proto__ stays data instead of replacing the prototype.
function define(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}

class Expander {
  private readonly anchors = new Map<string, YamlNode>();
  readonly aliases = new Map<Alias, YamlNode>();
  private readonly values = new Map<YamlNode, unknown>();
  private readonly sizes = new Map<YamlNode, { count: number; bytes: number }>();
  private readonly open = new Set<YamlNode>();
  readonly problems: ExpandProblem[] = [];
  private count = 0;
  private bytes = 0;

  private fail(offset: number, code: string, message: string): never {
    this.problems.push({ offset, code, message });
    throw new Stop();
  }

  private grow(count: number, bytes: number, offset: number, alias?: Alias): void {
    this.count += count;
    this.bytes += bytes;
    const via = alias ? ` once aliases are expanded (alias *${alias.source} here adds ${fmt(count)} values, ${formatBytes(bytes)})` : '';
    const fix = alias ? 'alias less, or alias smaller data' : 'make the file smaller';
    if (this.count > LIMITS.values) this.fail(offset, 'E_LIMIT_VALUES', `the file holds more than ${fmt(LIMITS.values)} YAML values${via}; ${fix}`);
    if (this.bytes > LIMITS.bytes) this.fail(offset, 'E_LIMIT_BYTES', `the file holds more than ${formatBytes(LIMITS.bytes)} of text${via}; ${fix}`);
  }

  value(node: unknown, depth: number): unknown {
    if (node === null || node === undefined) {
      this.grow(1, 0, 0);
      return null;
    }
    const yn = node as YamlNode;
    const offset = yn.range?.[0] ?? 0;
    if (isAlias(yn)) return this.alias(yn, offset);
    if (depth > LIMITS.depth) this.fail(offset, 'E_LIMIT_DEPTH', `maps and lists are nested more than ${LIMITS.depth} levels deep here; a topology needs far fewer`);
    const anchor = 'anchor' in yn && typeof yn.anchor === 'string' ? yn.anchor : undefined;
    // Registered before the children: an alias inside its own anchor finds it open, which is a cycle.
    if (anchor !== undefined) this.anchors.set(anchor, yn);
    const start = { count: this.count, bytes: this.bytes };
    this.open.add(yn);
    let out: unknown;
    if (isMap(yn)) out = this.map(yn.items, depth);
    else if (isSeq(yn)) out = yn.items.map((item) => this.value(item, depth + 1));
    else if (isScalar(yn)) {
      out = yn.value;
      this.grow(1, typeof out === 'string' ? out.length : 8, offset);
    } else out = null;
    this.open.delete(yn);
    if (anchor !== undefined) {
      this.values.set(yn, out);
      this.sizes.set(yn, { count: this.count - start.count, bytes: this.bytes - start.bytes });
    }
    return out;
  }

  private alias(a: Alias, offset: number): unknown {
    const target = this.anchors.get(a.source);
    if (target === undefined) {
      this.problems.push({ offset, code: 'E_YAML_ALIAS', message: `alias *${a.source} has no matching anchor &${a.source} before it; define the anchor first` });
      return null;
    }
    if (this.open.has(target)) this.fail(offset, 'E_YAML_ALIAS_CYCLE', `alias *${a.source} is inside the value anchored as &${a.source}, so it would contain itself; alias it from outside that value`);
    this.aliases.set(a, target);
    const size = this.sizes.get(target) ?? { count: 1, bytes: 0 };
    this.grow(size.count, size.bytes, offset, a);
    return this.values.get(target);
  }

  private map(items: readonly unknown[], depth: number): Record<string, unknown> {
    const obj: Record<string, unknown> = {};
    const merges: unknown[] = [];
    for (const pair of items) {
      if (!isPair(pair)) continue;
      if (isMergeKey(pair.key)) {
        merges.push(pair.value);
        continue;
      }
      const key = isScalar(pair.key) ? String(pair.key.value ?? '') : pair.key === null ? '' : JSON.stringify(this.value(pair.key, depth + 1));
      this.grow(0, key.length, (pair.key as YamlNode | null)?.range?.[0] ?? 0);
      define(obj, key, this.value(pair.value, depth + 1));
    }
    // Own keys win over merged ones; among merged maps the first wins (YAML merge key semantics).
    for (const m of merges) {
      const data = this.value(m, depth + 1);
      this.checkMergeSources(m);
      for (const src of isSeq(this.deref(m)) ? (data as unknown[]) : [data]) {
        if (typeof src !== 'object' || src === null) continue;
        for (const [k, v] of Object.entries(src)) if (!Object.hasOwn(obj, k)) define(obj, k, v);
      }
    }
    return obj;
  }

  private deref(node: unknown): unknown {
    return isAlias(node) ? this.aliases.get(node) : node;
  }

  /** A merge key takes maps (or aliases of maps, or a list of those); anything else is reported where it is written. */
  private checkMergeSources(value: unknown): void {
    const v = this.deref(value);
    for (const item of isSeq(v) ? v.items : [value]) {
      const m = this.deref(item);
      // An alias without an anchor was reported already.
      if (isMap(m) || (isAlias(item) && m === undefined)) continue;
      const at = (item as YamlNode | null)?.range?.[0] ?? (value as YamlNode | null)?.range?.[0] ?? 0;
      const what = isSeq(m) ? 'a list' : isScalar(m) ? 'a single value' : 'nothing';
      this.fail(at, 'E_YAML_MERGE', `a merge key (<<) takes a map, an alias of a map or a list of those; this is ${what}`);
    }
  }
}

/** Plain data of a parsed document; never throws. */
export function expandDocument(doc: Document): Expanded {
  const ex = new Expander();
  try {
    const data = ex.value(doc.contents, 0);
    return { data: ex.problems.length > 0 ? undefined : data, aliases: ex.aliases, problems: ex.problems };
  } catch (err) {
    if (err instanceof Stop) return { data: undefined, aliases: ex.aliases, problems: ex.problems };
    throw err;
  }
}
