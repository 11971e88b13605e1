// Where a value is written in a topology file, for errors found after validation (e.g. an unknown package
// found when the lab is prepared): file:line:col like the validator's own diagnostics.
import { PositionIndex, pointer } from './diagnostics.js';
import { isRecord } from './doc.js';
import { parseText, readTopologyFile } from './load.js';

/** Position of `value` in the `field` list of the first of `nodes` that writes it, else of defaults. */
export async function locateListItem(file: string, field: string, value: string, nodes: readonly string[]): Promise<{ line: number; column: number } | undefined> {
  const text = await readTopologyFile(file).catch(() => undefined);
  if (typeof text !== 'string') return undefined;
  const parsed = parseText(text, file);
  if (!isRecord(parsed.data)) return undefined;
  const data = parsed.data;
  const all = isRecord(data.nodes) ? data.nodes : {};
  const candidates: [string, unknown][] = [...nodes.map((n): [string, unknown] => [pointer('nodes', n, field), isRecord(all[n]) ? all[n][field] : undefined]), [pointer('defaults', field), isRecord(data.defaults) ? data.defaults[field] : undefined]];
  for (const [base, list] of candidates) {
    if (!Array.isArray(list)) continue;
    const i = list.indexOf(value);
    if (i >= 0) return new PositionIndex(parsed.doc, parsed.lines, parsed.aliases).locate(`${base}/${i}`);
  }
  return undefined;
}

/** Position of a node's `field` (e.g. its shares: list). */
export async function locateNodeField(file: string, node: string, field: string): Promise<{ line: number; column: number } | undefined> {
  const text = await readTopologyFile(file).catch(() => undefined);
  if (typeof text !== 'string') return undefined;
  const parsed = parseText(text, file);
  if (!isRecord(parsed.data)) return undefined;
  const index = new PositionIndex(parsed.doc, parsed.lines, parsed.aliases);
  return index.locate(pointer('nodes', node, field));
}
