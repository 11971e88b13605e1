// `topo graph FILE --format dot|mermaid|json`: draw the wiring; an invalid file prints validate's lines.
import { oneLine, toDot, toJson, toMermaid } from '../topology/index.js';
import { checkFile, printDiagnostics } from './validate.js';

export async function graphCommand(file: string, opts: { format: 'dot' | 'mermaid' | 'json' }): Promise<number> {
  const checked = await checkFile(file);
  if ('unreadable' in checked) {
    process.stderr.write(`${oneLine(`${file}: error: ${checked.unreadable}`)}\n`);
    return 2;
  }
  if (!checked.result.ok) {
    printDiagnostics(checked.result.diagnostics);
    return 1;
  }
  const t = checked.result.topology;
  const out = opts.format === 'json' ? `${JSON.stringify(toJson(t), null, 2)}\n` : opts.format === 'mermaid' ? toMermaid(t) : toDot(t);
  process.stdout.write(out);
  return 0;
}
