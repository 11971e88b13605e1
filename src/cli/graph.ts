// `topo graph FILE --format dot|mermaid|json`: draw the wiring; an invalid file prints validate's lines.
import { toDot, toJson, toMermaid } from '../topology/index.js';
import { validTopology } from './validate.js';

export async function graphCommand(file: string, opts: { format: 'dot' | 'mermaid' | 'json' }): Promise<number> {
  const t = await validTopology(file);
  if (typeof t === 'number') return t;
  const out = opts.format === 'json' ? `${JSON.stringify(toJson(t), null, 2)}\n` : opts.format === 'mermaid' ? toMermaid(t) : toDot(t);
  process.stdout.write(out);
  return 0;
}
