// Disk images of a replayed bundle: a qcow2 can name other files (its backing chain, an external data file) that
// QEMU opens for the guest to read. Each link of the chain is inspected on its own (`qemu-img info`, which does not
// open backing files) and checked to lie inside the bundle before the next one is looked at.
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { outside } from '../topology/path-fields.js';
import type { ResolvedTopology } from '../topology/model.js';

interface ImageInfo {
  format?: string;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  'backing-filename-format'?: string;
  'format-specific'?: { type?: string; data?: { 'data-file'?: string } };
}

/** Formats QEMU is allowed to open from a bundle: neither can name a host file except through what is checked here. */
const SAFE_FORMATS = ['raw', 'qcow2'];
const MAX_CHAIN = 16;
// json:{...}, nbd:, http:, file: ... : a name QEMU may read as something other than a plain relative file.
const PROTOCOL = /^[A-Za-z0-9+._-]+:/;

async function info(file: string, format: string | undefined): Promise<ImageInfo> {
  const { execa } = await import('execa');
  // -U: a running lab may hold the image's lock; info only reads the header.
  const args = ['info', '--output=json', '-U', ...(format ? ['-f', format] : []), file];
  const r = await execa('qemu-img', args, { timeout: 30_000, reject: false });
  if (r.exitCode !== 0) throw new Error(`qemu-img info ${file}: ${String(r.stderr || r.message || 'failed').split('\n')[0] ?? ''}`);
  return JSON.parse(r.stdout) as ImageInfo;
}

/** Why a node's disk may not be opened from the bundle in `confine`; undefined when it may. */
export async function diskProblem(disk: string, confine: string): Promise<string | undefined> {
  const rel = (f: string) => path.relative(confine, f) || '.';
  let file = disk;
  let format: string | undefined;
  for (let depth = 0; depth < MAX_CHAIN; depth++) {
    const st = await lstat(file).catch(() => undefined);
    if (!st?.isFile()) return `${rel(file)} is not a regular file of the bundle`;
    let i: ImageInfo;
    try {
      i = await info(file, format);
    } catch (err) {
      return `cannot inspect ${rel(file)} (${(err as Error).message})`;
    }
    // topo opens a top-level image as qcow2 (by its magic) or raw; anything else in a chain is refused.
    if (depth > 0 && !SAFE_FORMATS.includes(i.format ?? '')) return `${rel(file)} is a ${i.format ?? 'unknown'} image; a bundle's backing files are raw or qcow2`;
    if (i.format !== 'qcow2') return undefined;
    const dataFile = i['format-specific']?.data?.['data-file'];
    if (dataFile !== undefined) {
      const abs = path.resolve(path.dirname(file), dataFile);
      if (PROTOCOL.test(dataFile) || outside(confine, abs)) return `${rel(file)} keeps its data in ${dataFile}, outside the bundle`;
    }
    const backing = i['backing-filename'];
    if (backing === undefined) return undefined;
    const full = i['full-backing-filename'] ?? path.resolve(path.dirname(file), backing);
    if (PROTOCOL.test(backing) || !path.isAbsolute(full)) return `${rel(file)} has the backing file ${JSON.stringify(backing)}, which is not a file of the bundle`;
    if (outside(confine, full)) return `${rel(file)} has the backing file ${full}, outside the bundle`;
    file = full;
    format = i['backing-filename-format'];
    if (format !== undefined && !SAFE_FORMATS.includes(format)) return `${rel(file)} is a backing file of format ${format}; a bundle's backing files are raw or qcow2`;
  }
  return `${rel(disk)} has a backing chain longer than ${MAX_CHAIN}`;
}

/** Disk problems of a replayed topology, one line each ("node a: disk.qcow2 has the backing file ..."). */
export async function imageProblems(topology: ResolvedTopology, confine: string): Promise<string[]> {
  const out: string[] = [];
  for (const n of topology.nodes) {
    if (n.disk === undefined) continue;
    const problem = await diskProblem(n.disk, confine);
    if (problem) out.push(`node ${n.name}: disk ${problem}; a replayed bundle only opens its own files`);
  }
  return out;
}
