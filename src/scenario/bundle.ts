// Reproduction bundles: one .tar.gz with what it takes to see and replay a run (topology, scenario, seed,
// versions, console logs, pcaps, the event log with step boundaries, collected files).
import { access, mkdir, mkdtemp, readFile, readdir, rename, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { parseDocument, stringify } from 'yaml';
import { TopoError } from '../errors.js';
import { guestInfo } from '../guest/index.js';
import { qemuBinary } from '../machine/preflight.js';
import type { Scenario } from './model.js';
import type { JournalEntry, ScenarioRun } from './runner.js';
import { outside } from '../topology/path-fields.js';
import { fitShared, type Shared } from './bundle-budget.js';
import { fileMember, LOCK_MEMBER, packageLock, readPackageLock, rewriteFileSources } from './bundle-layers.js';
import { usesDefaultGuest } from '../runtime/lab.js';
import type { ResolvedPackage } from '../guest/apt-closure.js';
import { capsText, removeTree, unpackBounded, UnpackInterrupted, UNPACK_LIMITS, type UnpackLimits } from './unpack.js';

export const BUNDLE_FORMAT = 1;
const MANIFEST = 'manifest.json';

export interface BundleManifest {
  kind: 'topo-bundle';
  format: number;
  created: string;
  scenario: string;
  seed: number;
  passed: boolean;
  /** 1-based number and name of the first failed step. */
  failedStep?: { number: number; name: string; message: string };
  versions: Record<string, string>;
  files: string[];
  /** Logs and captures cut to fit the replay caps (original and kept bytes). */
  truncated?: Record<string, { size: number; kept: number }>;
  /** Members left out to stay under the entry cap. */
  omitted?: string[];
}

async function topoVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Everything a bug report needs to say what ran where; a part that cannot be found says why instead. */
export async function versions(accel: string | undefined): Promise<Record<string, string>> {
  const out: Record<string, string> = { topo: await topoVersion(), node: process.version, hostKernel: os.release(), accel: accel ?? 'unknown' };
  try {
    // execa is loaded on use: importing it costs ~0.1 s of every topo command's start.
    out.qemu = (await (await import('execa')).execa(qemuBinary(), ['--version'], { timeout: 10_000 })).stdout.split('\n')[0] ?? '';
  } catch (err) {
    out.qemu = `unknown (${(err as Error).message.split('\n')[0]})`;
  }
  try {
    const g = await guestInfo();
    Object.assign(out, { guestKernel: g.kernelVersion, guestKernelPackage: `${g.kernelPackage} ${g.kernelPackageVersion}`, busybox: g.busyboxVersion });
  } catch (err) {
    out.guestKernel = `unknown (${(err as Error).message.split('\n')[0]})`;
  }
  return out;
}

/** The scenario as it replays from the bundle: its topology is the bundle's copy, its seed fixed. */
function replayableScenario(s: Scenario, rewritten: boolean): string {
  const doc = parseDocument(s.text);
  // An inline topology whose files: were rewritten replays from topology.yaml (the same text, beside scenario.yaml).
  if (s.topologyFile || rewritten) doc.set('topology', 'topology.yaml');
  doc.set('seed', s.seed);
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

async function put(dir: string, rel: string, data: string | Buffer, files: string[]): Promise<void> {
  const abs = path.resolve(dir, rel);
  // Member names carry guest and user strings: none may leave the staging directory, whatever validation let through.
  if (outside(dir, abs) || abs === dir) throw new TopoError(`bundle member ${JSON.stringify(rel)} would leave the bundle`, { code: 'E_BUNDLE' });
  await mkdir(path.dirname(abs), { recursive: true });
  await writeFile(abs, data);
  files.push(rel);
}

/** A guest path as a relative member name: `.`, `..` and empty segments cannot climb or vanish. */
export function memberPath(guest: string): string {
  return guest.split('/').filter((seg) => seg !== '' && seg !== '.').map((seg) => (seg === '..' ? '%2E%2E' : seg)).join('/') || '%2F';
}

const jsonl = (entries: readonly JournalEntry[]) => entries.map((e) => JSON.stringify(e)).join('\n') + '\n';

/** Write the bundle of a finished run into `dir` (or exactly `opts.file`); returns the .tar.gz path. */
export async function writeBundle(run: ScenarioRun, dir: string, opts: { file?: string; limits?: UnpackLimits } = {}): Promise<string> {
  const s = run.scenario;
  const stage = await mkdtemp(path.join(os.tmpdir(), 'topo-bundle-'));
  try {
    const files: string[] = [];
    const original = s.topologyFile ? await readFile(s.topologyFile, 'utf8') : stringify((parseDocument(s.text).toJS() as { topology: unknown }).topology);
    // files: sources travel in the bundle, and its topology names them there.
    const base = path.dirname(s.topologyFile ?? s.file);
    const { text: topoText, sources } = rewriteFileSources(original, base, (abs) => fileMember(abs, base, memberPath));
    await put(stage, 'scenario.yaml', replayableScenario(s, sources.length > 0), files);
    await put(stage, 'scenario.original.yaml', s.text, files);
    await put(stage, 'topology.yaml', topoText, files);
    for (const src of new Map(sources.map((x) => [x.value, x.abs]))) {
      const data = await readFile(src[1]).catch(() => undefined);
      if (data) await put(stage, src[0], data, files);
    }
    if (original !== topoText) await put(stage, 'topology.original.yaml', original, files);
    const lock = await packageLock(s.topology, usesDefaultGuest);
    if (lock) await put(stage, LOCK_MEMBER, `${JSON.stringify(lock, null, 2)}\n`, files);
    await put(stage, 'topology.resolved.json', `${JSON.stringify(s.topology, null, 2)}\n`, files);
    await put(stage, 'seed', `${s.seed}\n`, files);
    await put(stage, 'events.jsonl', jsonl(run.journal), files);
    // Host files the steps copy into guests, when they live beside the scenario: replay reads them from the bundle.
    for (const step of s.steps) {
      if (step.kind !== 'copy' || !('local' in step.from)) continue;
      const rel = path.relative(path.dirname(s.file), step.from.local);
      if (rel.startsWith('..') || path.isAbsolute(rel)) continue;
      const data = await readFile(step.from.local).catch(() => undefined);
      if (data) await put(stage, rel, data, files);
    }
    // Logs, captures and collected files share what the replay caps leave, so the bundle always replays.
    const shared: Shared[] = s.topology.nodes.map((n) => ({ name: `logs/${n.name}.log`, data: run.consoleLogs.get(n.name) ?? Buffer.alloc(0), kind: 'log' }));
    for (const [key, data] of run.collected) shared.push({ name: `collected/${memberPath(key)}${typeof data === 'string' ? '.error' : ''}`, data: Buffer.from(data), kind: 'collected' });
    for (const pcap of run.captures) {
      const data = await readFile(pcap).catch(() => undefined);
      if (data) shared.push({ name: `captures/${path.basename(pcap)}`, data, kind: 'capture' });
    }
    let used = 0;
    for (const f of files) used += (await stat(path.join(stage, f))).size + 1024;
    const fitted = fitShared(shared, { bytes: used, entries: files.length }, opts.limits ?? UNPACK_LIMITS);
    for (const m of fitted.members) await put(stage, m.name, m.data, files);
    const failed = run.results.find((r) => r.status === 'failed');
    const manifest: BundleManifest = {
      kind: 'topo-bundle',
      format: BUNDLE_FORMAT,
      created: new Date().toISOString(),
      scenario: s.name,
      seed: s.seed,
      passed: run.passed,
      failedStep: failed ? { number: failed.index + 1, name: failed.name, message: failed.failure?.message ?? '' } : undefined,
      versions: await versions(run.accel),
      files: [...files, 'versions.json'],
      ...(Object.keys(fitted.truncated).length > 0 ? { truncated: fitted.truncated } : {}),
      ...(fitted.omitted.length > 0 ? { omitted: fitted.omitted } : {}),
    };
    await put(stage, 'versions.json', `${JSON.stringify(manifest.versions, null, 2)}\n`, []);
    await writeFile(path.join(stage, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    await mkdir(opts.file ? path.dirname(path.resolve(opts.file)) : dir, { recursive: true });
    const slug = s.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'scenario';
    const out = opts.file ? path.resolve(opts.file) : path.resolve(dir, `${slug}-${new Date().toISOString().replace(/[:.]/g, '-')}.tar.gz`);
    const tmp = `${out}.part`;
    await tar.c({ gzip: true, file: tmp, cwd: stage, portable: true }, [MANIFEST, ...manifest.files]);
    await rename(tmp, out);
    return out;
  } finally {
    await removeTree(stage);
  }
}

export function isBundlePath(file: string): boolean {
  return /\.(tar\.gz|tgz)$/.test(file);
}

export interface OpenedBundle {
  dir: string;
  manifest: BundleManifest;
  scenarioFile: string;
  /** Exact package versions by node from packages.lock.json; replay builds or finds exactly these layers. */
  layerPins?: Map<string, ResolvedPackage[]>;
  close(): Promise<void>;
}

/** Unpack a bundle for replay; a corrupt, oversized or incompatible one is a TopoError (E_BUNDLE) in one line. */
export async function openBundle(file: string, opts: { signal?: AbortSignal; limits?: UnpackLimits } = {}): Promise<OpenedBundle> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'topo-replay-'));
  const close = () => removeTree(dir);
  const error = (why: string) => new TopoError(`${file}: ${why}`, { code: 'E_BUNDLE', hint: 'make a new one with `topo test --bundle DIR` or `topo bundle`' });
  const fail = async (why: string) => {
    await close();
    return error(why);
  };
  try {
    await unpackBounded(file, dir, opts);
  } catch (err) {
    // unpackBounded removed the directory already.
    if (err instanceof UnpackInterrupted) throw new TopoError(`${file}: ${err.message}`, { code: 'E_INTERRUPTED' });
    const why = (err as Error).message.split('\n')[0] ?? '';
    const limit = /the limit of a replayed bundle/.test(why);
    throw error(limit ? `refused: ${why} (caps: ${capsText(opts.limits ?? UNPACK_LIMITS)})` : `corrupt bundle (${why})`);
  }
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(await readFile(path.join(dir, MANIFEST), 'utf8')) as BundleManifest;
  } catch {
    throw await fail(`corrupt bundle (no readable ${MANIFEST}; is this a topo bundle?)`);
  }
  if (manifest.kind !== 'topo-bundle' || typeof manifest.format !== 'number') throw await fail(`not a topo bundle (${MANIFEST} has no kind: topo-bundle)`);
  if (manifest.format !== BUNDLE_FORMAT) throw await fail(`incompatible bundle: format ${manifest.format}, this topo reads format ${BUNDLE_FORMAT} (made by topo ${manifest.versions?.topo ?? 'unknown'})`);
  for (const f of Array.isArray(manifest.files) ? manifest.files : []) {
    // Confinement first: an entry naming a host path must not even learn whether that path exists.
    if (typeof f !== 'string' || outside(dir, path.resolve(dir, f))) throw await fail(`corrupt bundle: ${MANIFEST} lists ${JSON.stringify(f)}, which is not a file of the bundle`);
    if (!(await access(path.join(dir, f)).then(() => true, () => false))) throw await fail(`corrupt bundle: ${f} is missing`);
  }
  let layerPins: Map<string, ResolvedPackage[]> | undefined;
  try {
    layerPins = await readPackageLock(dir);
  } catch (err) {
    throw await fail((err as Error).message);
  }
  return { dir, manifest, scenarioFile: path.join(dir, 'scenario.yaml'), layerPins, close };
}

/** Every file of a directory tree, relative (for tests and `topo bundle` listings). */
export async function listFiles(dir: string, prefix = ''): Promise<{ file: string; size: number }[]> {
  const out: { file: string; size: number }[] = [];
  for (const e of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = path.join(prefix, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else out.push({ file: rel, size: (await stat(path.join(dir, rel))).size });
  }
  return out;
}
