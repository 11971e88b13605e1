// The lab file of a lab spread over several runners (`topo k8s render --lab-file`, `lab.json` in the ConfigMap): its
// name, epoch, secret and each node's control address. Read by every command given `--lab-file` (SpreadLab).
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { TopoError } from '../errors.js';

/** The file as written. */
export interface LabFileDoc {
  topo: 'lab';
  version: 1;
  lab: string;
  epoch: number;
  /** Exactly one of secret (hex) and secretFile (its path, relative to the lab file's directory). */
  secret?: string;
  secretFile?: string;
  nodes: Record<string, { control: string }>;
}

export interface Runner {
  node: string;
  host: string;
  port: number;
  /** As written, for messages. */
  address: string;
}

/** The file as loaded: the secret read and decoded, each node's address split. */
export interface LabFile {
  file: string;
  lab: string;
  epoch: number;
  secret: Buffer;
  runners: Runner[];
}

export const LAB_FILE_VERSION = 1;
const KEYS = new Set(['topo', 'version', 'lab', 'epoch', 'secret', 'secretFile', 'nodes']);

/** The bytes of a secret written as hex (the lab file's `secret`, the Secret's `link-secret`): runners and clients agree on them. */
export function secretFromText(text: string): Buffer | undefined {
  const hex = text.trim();
  return /^(?:[0-9a-fA-F]{2}){16,}$/.test(hex) ? Buffer.from(hex, 'hex') : undefined;
}

/** `HOST:PORT`, `[V6]:PORT`. */
export function parseAddress(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : 0;
  return m && port >= 1 && port <= 65535 ? { host: m[1] ?? m[2]!, port } : undefined;
}

export async function loadLabFile(file: string): Promise<LabFile> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new TopoError(`cannot read the lab file (${err.code ?? err.message})`, { code: 'E_LAB_FILE', file });
  });
  await checkMode(file, 'the lab file');
  const doc = parseLabFile(text, file);
  let secret: Buffer | undefined;
  if (doc.secretFile !== undefined) {
    const secretPath = path.resolve(path.dirname(file), doc.secretFile);
    const raw = await readFile(secretPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new TopoError(`secretFile: cannot read ${secretPath} (${err.code ?? err.message})`, { code: 'E_LAB_FILE', file, ...at(text, ['secretFile']) });
    });
    await checkMode(secretPath, 'the secret file');
    secret = secretFromText(raw);
    if (!secret) throw new TopoError(`secretFile: ${secretPath} does not hold a hex secret of at least 16 bytes`, { code: 'E_LAB_FILE', file, ...at(text, ['secretFile']) });
  } else {
    // An inline secret is the lab's key: a file others can read gives it away.
    const mode = (await stat(file)).mode;
    if (mode & 0o044) {
      throw new TopoError(`the lab file holds the lab secret but other users can read it (mode ${(mode & 0o777).toString(8)})`, {
        code: 'E_LAB_FILE', file, hint: `chmod 600 ${file}`,
      });
    }
    secret = secretFromText(doc.secret!)!;
  }
  const runners = Object.entries(doc.nodes).map(([node, { control }]) => ({ node, address: control, ...parseAddress(control)! }));
  return { file, lab: doc.lab, epoch: doc.epoch, secret, runners };
}

/** Anyone could point us at another runner, or swap the secret: a world-writable file is refused. */
async function checkMode(file: string, what: string): Promise<void> {
  const st = await stat(file);
  if (st.mode & 0o002) {
    throw new TopoError(`${what} ${file} is writable by every user (mode ${(st.mode & 0o777).toString(8)})`, { code: 'E_LAB_FILE', hint: `chmod o-w ${file}` });
  }
}

/** Checks the document, one line for the first problem (FILE:LINE:COL and the JSON path). */
export function parseLabFile(text: string, file: string): LabFileDoc {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    const pos = /position (\d+)/.exec((err as Error).message);
    const where = pos ? lineCol(text, Number(pos[1])) : {};
    throw new TopoError(`the lab file is not JSON (${(err as Error).message.replace(/ in JSON at position \d+.*$/, '')})`, { code: 'E_LAB_FILE', file, ...where });
  }
  const bad = (p: (string | number)[], what: string, hint?: string): never => {
    throw new TopoError(`${p.join('.') || '(top)'}: ${what}`, { code: 'E_LAB_FILE', file, hint, ...at(text, p) });
  };
  if (v === null || typeof v !== 'object' || Array.isArray(v)) bad([], 'the lab file must be a JSON object');
  const d = v as Record<string, unknown>;
  if (d.topo !== 'lab') bad(['topo'], `must be "lab" (this is not a topo lab file)`, 'write it with `topo k8s render --lab-file FILE`');
  if (d.version !== LAB_FILE_VERSION) bad(['version'], `lab file version ${JSON.stringify(d.version)} is not supported (this topo reads ${LAB_FILE_VERSION})`);
  for (const k of Object.keys(d)) if (!KEYS.has(k)) bad([k], `unknown field (fields: ${[...KEYS].join(', ')})`);
  if (typeof d.lab !== 'string' || !/^[a-z][a-z0-9-]{0,62}$/.test(d.lab)) bad(['lab'], 'must be a lab name (lowercase letters, digits and "-")');
  if (!Number.isSafeInteger(d.epoch) || (d.epoch as number) < 0) bad(['epoch'], 'must be a whole number');
  if ((d.secret === undefined) === (d.secretFile === undefined)) bad([], 'give exactly one of "secret" (hex) and "secretFile" (a path)');
  if (d.secret !== undefined && (typeof d.secret !== 'string' || !secretFromText(d.secret))) bad(['secret'], 'must be hex, at least 16 bytes');
  if (d.secretFile !== undefined && (typeof d.secretFile !== 'string' || d.secretFile === '')) bad(['secretFile'], 'must be a path');
  const nodes = d.nodes as Record<string, unknown>;
  if (nodes === null || typeof nodes !== 'object' || Array.isArray(nodes) || Object.keys(nodes).length === 0) bad(['nodes'], 'must map each node to { "control": "HOST:PORT" }');
  for (const [name, n] of Object.entries(nodes)) {
    if (!/^[a-z][a-z0-9-]{0,31}$/.test(name)) bad(['nodes', name], 'is not a node name');
    const control = (n as { control?: unknown } | null)?.control;
    if (typeof control !== 'string' || !parseAddress(control)) bad(['nodes', name, 'control'], `${JSON.stringify(control)} is not HOST:PORT`);
  }
  return d as unknown as LabFileDoc;
}

function lineCol(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before.at(-1)!.length + 1 };
}

/** Where the value at `p` (or its nearest parent) starts. */
function at(text: string, p: (string | number)[]): { line?: number; column?: number } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  for (let n = p.length; n >= 0; n--) {
    const node = doc.getIn(p.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node?.range) {
      const { line, col } = lines.linePos(node.range[0]);
      return { line, column: col };
    }
  }
  return {};
}

/** The file as `topo k8s render --lab-file` writes it (and the ConfigMap's lab.json). */
export function labFileText(doc: Omit<LabFileDoc, 'topo' | 'version'>): string {
  return `${JSON.stringify({ topo: 'lab', version: LAB_FILE_VERSION, ...doc }, null, 2)}\n`;
}
