// Reading and parsing: the only module (besides the file-existence rule) that touches the filesystem.
import { readFile, stat } from 'node:fs/promises';
import { Document, LineCounter, parseDocument, type Alias, type Node as YamlNode, type YAMLError } from 'yaml';
import { TopoError } from '../errors.js';
import { oneLine, type Diagnostic } from './diagnostics.js';
import { expandDocument } from './expand.js';
import { LIMITS, formatBytes } from './limits.js';

export interface Parsed {
  file: string;
  doc: Document;
  lines: LineCounter;
  /** Alias -> anchored node, for positions of aliased and merged values. */
  aliases: ReadonlyMap<Alias, YamlNode>;
  /** Plain JS value of the document; undefined when the YAML could not be read. */
  data: unknown;
  diagnostics: Diagnostic[];
}

/**
 * Read a topology file; an unreadable file is a TopoError with code E_READ (the CLI exits 2).
 * A file over LIMITS.fileBytes is not read: its size comes back instead.
 */
export async function readTopologyFile(file: string): Promise<string | { tooBig: number }> {
  try {
    const st = await stat(file);
    if (st.isFile() && st.size > LIMITS.fileBytes) return { tooBig: st.size };
    return await readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new TopoError(`cannot read: ${e.message}`, { code: 'E_READ', file, cause: err });
  }
}

export function tooBigDiagnostic(file: string, bytes: number): Diagnostic {
  const message = `the file is ${formatBytes(bytes)}; topo reads topology files up to ${formatBytes(LIMITS.fileBytes)}`;
  return { file, line: 1, column: 1, path: '', message, code: 'E_LIMIT_FILE' };
}

const HINTS: Record<string, string> = {
  TAB_AS_INDENT: 'tabs are not allowed for indentation; indent with spaces',
  MULTIPLE_DOCS: 'a topology file holds one YAML document; remove this `---` and what follows, or merge the documents',
  BAD_INDENT: 'check the indentation and closing brackets',
  MISSING_CHAR: 'a closing quote or bracket is missing',
  BLOCK_AS_IMPLICIT_KEY: 'a nested map cannot follow a key on the same line; put it on the next line, indented',
  MULTILINE_IMPLICIT_KEY: 'a key must fit on one line; is a colon or quote missing?',
};

function yamlMessage(err: YAMLError, text: string): string {
  if (err.code === 'DUPLICATE_KEY') {
    const key = /^["']?([^"':\n]*)/.exec(text.slice(err.pos[0]))?.[1]?.trim();
    return `duplicate key${key ? ` \`${key}\`` : ''}; each key may appear once per map, remove or rename one`;
  }
  if (err.code === 'TAB_AS_INDENT' || err.code === 'MULTIPLE_DOCS') return HINTS[err.code] as string;
  const msg = err.message.split('\n')[0]?.replace(/\.$/, '') ?? 'syntax error';
  const hint = HINTS[err.code];
  return `YAML syntax error: ${msg}${hint ? `; ${hint}` : ''}`;
}

/** Parse YAML keeping positions. Syntax errors come back as diagnostics; data is undefined then. */
export function parseText(text: string, file: string): Parsed {
  const lines = new LineCounter();
  const size = Buffer.byteLength(text);
  if (size > LIMITS.fileBytes) return { file, doc: new Document(), lines, aliases: new Map(), data: undefined, diagnostics: [tooBigDiagnostic(file, size)] };
  // merge: `<<: *base` merge keys, as in Compose files.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, keepSourceTokens: false, merge: true });
  const diagnostics: Diagnostic[] = doc.errors.map((err) => {
    const { line, col } = lines.linePos(err.pos[0]);
    return { file, line, column: col, path: '', message: oneLine(yamlMessage(err, text)), code: `E_YAML_${err.code}` };
  });
  // Duplicate keys leave a usable document, so schema and rules still run and report everything else.
  if (doc.errors.some((e) => e.code !== 'DUPLICATE_KEY')) return { file, doc, lines, aliases: new Map(), data: undefined, diagnostics };
  const { data, aliases, problems } = expandDocument(doc);
  for (const p of problems) {
    const { line, col } = lines.linePos(p.offset);
    diagnostics.push({ file, line, column: col, path: '', message: oneLine(p.message), code: p.code });
  }
  return { file, doc, lines, aliases, data, diagnostics };
}
