// `topo validate FILE...`: one FILE:LINE:COL line per problem (all at once), or a JSON report.
import { isTopoError } from '../errors.js';
import { formatDiagnostic, loadTopology, oneLine, type Diagnostic, type LoadResult, type ResolvedTopology } from '../topology/index.js';
import { isScenario, validateScenario } from '../scenario/load.js';
import { parseText, readTopologyFile } from '../topology/load.js';

export interface FileReport {
  file: string;
  valid: boolean;
  errors: { line: number; column: number; path: string; message: string }[];
}

/** Load one file for a command; prints nothing. `unreadable` carries the one-line reason (exit 2). */
export async function checkFile(file: string): Promise<{ result: LoadResult } | { unreadable: string }> {
  try {
    return { result: await loadTopology(file) };
  } catch (err) {
    if (isTopoError(err) && err.code === 'E_READ') return { unreadable: err.message };
    throw err;
  }
}

/** A valid topology for a command that needs one, or the exit code after printing why not (2 unreadable, 1 invalid). */
export async function validTopology(file: string): Promise<ResolvedTopology | number> {
  const checked = await checkFile(file);
  if ('unreadable' in checked) {
    process.stderr.write(`${oneLine(`${file}: error: ${checked.unreadable}`)}\n`);
    return 2;
  }
  if (!checked.result.ok) {
    printDiagnostics(checked.result.diagnostics);
    return 1;
  }
  return checked.result.topology;
}

export function printDiagnostics(diagnostics: readonly Diagnostic[]): void {
  for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
}

export async function validateCommand(files: string[], opts: { json?: boolean }): Promise<number> {
  let code = 0;
  const reports: FileReport[] = [];
  for (const file of files) {
    const checked = await checkFile(file);
    if ('unreadable' in checked) {
      code = 2;
      if (!opts.json) process.stderr.write(`${oneLine(`${file}: error: ${checked.unreadable}`)}\n`);
      reports.push({ file, valid: false, errors: [{ line: 0, column: 0, path: '', message: checked.unreadable }] });
      continue;
    }
    const scenario = await checkScenario(file);
    if (scenario) {
      if (!scenario.ok) {
        code = Math.max(code, 1);
        if (!opts.json) printDiagnostics(scenario.diagnostics);
        reports.push({ file, valid: false, errors: scenario.diagnostics.map((d) => ({ line: d.line, column: d.column, path: d.path, message: d.message })) });
        continue;
      }
      const sc = scenario.scenario;
      if (!opts.json) process.stdout.write(`${file}: ok (scenario, ${sc.steps.length} steps, ${sc.topology.nodes.length} nodes)\n`);
      reports.push({ file, valid: true, errors: [] });
      continue;
    }
    const { result } = checked;
    if (!result.ok) {
      code = Math.max(code, 1);
      if (!opts.json) printDiagnostics(result.diagnostics);
      reports.push({ file, valid: false, errors: result.diagnostics.map((d) => ({ line: d.line, column: d.column, path: d.path, message: d.message })) });
      continue;
    }
    const t = result.topology;
    if (!opts.json) process.stdout.write(`${file}: ok (${t.nodes.length} nodes, ${t.links.length} links)\n`);
    reports.push({ file, valid: true, errors: [] });
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2)}\n`);
  return code;
}

/** A scenario file (one with `steps:`) validated as one; undefined for a topology. */
async function checkScenario(file: string) {
  const text = await readTopologyFile(file);
  if (typeof text !== 'string') return undefined;
  const parsed = parseText(text, file);
  return isScenario(parsed) ? validateScenario(parsed, text) : undefined;
}
