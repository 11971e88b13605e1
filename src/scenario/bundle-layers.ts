// What a bundle needs to rebuild a lab's guests as they ran: the exact package versions of each node's layer
// (packages.lock.json) and the host files of `files:` (copied in, the topology rewritten to find them there).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { TopoError } from '../errors.js';
import type { ResolvedPackage } from '../guest/apt-closure.js';
import { currentLayer } from '../guest/layer.js';
import type { ResolvedTopology, ResolvedNode } from '../topology/model.js';
import { outside, pathFields, schemaJson } from '../topology/path-fields.js';
import { SCHEMA_URL } from '../topology/validate.js';

export const LOCK_MEMBER = 'packages.lock.json';

export interface PackageLock {
  format: 1;
  /** By node: the list as written, the layer's key and every package of it as NAME=VERSION. */
  nodes: Record<string, { request: string[]; key: string; packages: string[] }>;
}

/** The layers the lab's nodes use now (the cached layer of each list), or undefined when no node has packages. */
export async function packageLock(topology: ResolvedTopology, usesDefaultGuest: (n: ResolvedNode) => boolean): Promise<PackageLock | undefined> {
  const nodes: PackageLock['nodes'] = {};
  for (const n of topology.nodes) {
    if (!n.packages?.length || !usesDefaultGuest(n)) continue;
    const m = await currentLayer(n.packages);
    if (m) nodes[n.name] = { request: [...m.request], key: m.key, packages: m.packages.map((p) => `${p.name}=${p.version}`) };
  }
  return Object.keys(nodes).length > 0 ? { format: 1, nodes } : undefined;
}

const PIN = /^([a-z0-9][a-z0-9+.-]+)=([0-9][A-Za-z0-9.+~:-]*)$/;

/** A bundle's lock as exact package sets by node; none when the bundle has no lock. A malformed one is E_BUNDLE. */
export async function readPackageLock(dir: string): Promise<Map<string, ResolvedPackage[]> | undefined> {
  const text = await readFile(path.join(dir, LOCK_MEMBER), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const bad = (why: string) => new TopoError(`corrupt bundle: ${LOCK_MEMBER} ${why}`, { code: 'E_BUNDLE', hint: 'make a new one with `topo test --bundle DIR` or `topo bundle`' });
  let lock: PackageLock;
  try {
    lock = JSON.parse(text) as PackageLock;
  } catch {
    throw bad('is not JSON');
  }
  if (lock?.format !== 1 || typeof lock.nodes !== 'object' || lock.nodes === null) throw bad('has no format 1 and nodes');
  const out = new Map<string, ResolvedPackage[]>();
  for (const [node, entry] of Object.entries(lock.nodes)) {
    if (!Array.isArray(entry?.packages) || entry.packages.length === 0) throw bad(`lists no packages for node ${node}`);
    out.set(node, entry.packages.map((p) => {
      const m = typeof p === 'string' ? PIN.exec(p) : null;
      if (!m) throw bad(`has ${JSON.stringify(p)} for node ${node}, not NAME=VERSION`);
      return { name: m[1]!, version: m[2]! };
    }));
  }
  return out;
}

export interface FileSource {
  /** The host file as the topology resolved it. */
  abs: string;
  /** The value now written in the topology. */
  value: string;
}

/**
 * Rewrites every `files:` host source of a topology's text (relative to `baseDir`) to `to(abs)`; returns the new
 * text and the sources. The YAML document is edited in place, so comments and the rest stay as written.
 */
export function rewriteFileSources(text: string, baseDir: string, to: (abs: string) => string): { text: string; sources: FileSource[] } {
  const doc = parseDocument(text);
  const fields = pathFields(schemaJson(SCHEMA_URL), doc.toJS()).filter((f) => f.pointer.split('/').includes('files'));
  const sources: FileSource[] = [];
  for (const f of fields) {
    const keys = f.pointer.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
    const abs = path.resolve(baseDir, f.value);
    const value = to(abs);
    doc.setIn(keys, value);
    sources.push({ abs, value });
  }
  return { text: sources.length > 0 ? doc.toString({ lineWidth: 0, flowCollectionPadding: false }) : text, sources };
}

/** Where a `files:` source goes inside the bundle (relative to the bundle's topology.yaml), by its place on the host. */
export function fileMember(abs: string, baseDir: string, memberPath: (p: string) => string): string {
  const rel = path.relative(baseDir, abs);
  return outside(baseDir, abs) ? `files/host/${memberPath(abs)}` : `files/${memberPath(rel)}`;
}
