// Which kernel modules go into the initramfs, and in which order /init loads them.
// Debian's linux-image .deb ships no modules.dep (postinst runs depmod), so when it is absent we read
// each module's own `depends=` from its ELF .modinfo section: same data, and no kmod needed on the host.
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface ModuleInfo {
  /** Path relative to /lib/modules/<release>/, as in modules.dep. */
  readonly path: string;
  /** Direct (or, from modules.dep, transitive) dependencies, by module name. */
  readonly deps: readonly string[];
}
export type ModuleIndex = Map<string, ModuleInfo>;

/** The drivers the default guest needs (virtio_blk: its disk on uefi nodes); their dependencies are computed, never hard-coded. */
export const GUEST_MODULES = ['virtio_mmio', 'virtio_pci', 'virtio_net', 'virtio_blk', 'virtio_console', 'virtio_rng', 'qemu_fw_cfg', 'efivarfs'];
/** Loaded only when a node has a package layer (its erofs image, overlaid on the initramfs): /lib/modules/topo-layer.order. */
export const LAYER_MODULES = ['erofs', 'overlay'];
/** Loaded only when a node has shares: (virtiofs, and fuse under it): /lib/modules/topo-share.order. */
export const SHARE_MODULES = ['virtiofs'];

/** Module name of a path: basename without .ko[.xz|.zst|.gz], dashes as underscores (kernel convention). */
export function moduleName(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1).replace(/\.ko(\.(xz|zst|gz))?$/, '');
  return base.replace(/-/g, '_');
}

/** Parses modules.dep ("kernel/a.ko: kernel/b.ko kernel/c.ko" per line). */
export function parseModulesDep(text: string): ModuleIndex {
  const index: ModuleIndex = new Map();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const path = line.slice(0, colon).trim();
    const deps = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean).map(moduleName);
    index.set(moduleName(path), { path, deps });
  }
  return index;
}

/** Parses modules.builtin (one path per line) into module names. */
export function parseModulesBuiltin(text: string): Set<string> {
  return new Set(text.split('\n').map((l) => l.trim()).filter(Boolean).map(moduleName));
}

/**
 * Load order for `wanted`: every module after all of its dependencies (depth-first post-order),
 * built-in modules skipped, each module once. Throws on an unknown module or a dependency cycle.
 */
export function moduleLoadOrder(index: ModuleIndex, wanted: readonly string[], builtin: ReadonlySet<string> = new Set()): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (raw: string, from?: string) => {
    const name = raw.replace(/-/g, '_');
    if (builtin.has(name) || state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new Error(`module dependency cycle at ${name}`);
    const info = index.get(name);
    if (!info) throw new Error(`kernel module ${name} not found${from ? ` (needed by ${from})` : ''}`);
    state.set(name, 'visiting');
    for (const dep of info.deps) visit(dep, name);
    state.set(name, 'done');
    order.push(info.path);
  };
  for (const w of wanted) visit(w);
  return order;
}

/** The NUL-separated key=value strings of an ELF64 module's .modinfo section. */
export function readModinfo(elf: Buffer): Map<string, string> {
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) throw new Error('not an ELF64 file');
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const shstrndx = elf.readUInt16LE(0x3e);
  const section = (i: number) => {
    const at = shoff + i * shentsize;
    return { name: elf.readUInt32LE(at), offset: Number(elf.readBigUInt64LE(at + 0x18)), size: Number(elf.readBigUInt64LE(at + 0x20)) };
  };
  const strtab = section(shstrndx);
  const out = new Map<string, string>();
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    const nameEnd = elf.indexOf(0, strtab.offset + s.name);
    if (elf.toString('latin1', strtab.offset + s.name, nameEnd) !== '.modinfo') continue;
    for (const kv of elf.toString('utf8', s.offset, s.offset + s.size).split('\0')) {
      const eq = kv.indexOf('=');
      if (eq > 0 && !out.has(kv.slice(0, eq))) out.set(kv.slice(0, eq), kv.slice(eq + 1));
    }
  }
  return out;
}

const SIG_MARKER = Buffer.from('~Module signature appended~\n');

/**
 * The module without its appended signature. Verifying 12 RSA signatures costs ~0.1 s of emulated CPU
 * at boot under TCG; signatures are not enforced (no module.sig_enforce), and the modules come from the
 * signed Debian package we just unpacked. The kernel only notes a taint (below `quiet`'s log level).
 */
export function stripModuleSignature(ko: Buffer): Buffer {
  if (ko.length < SIG_MARKER.length + 12 || !ko.subarray(ko.length - SIG_MARKER.length).equals(SIG_MARKER)) return ko;
  const info = ko.length - SIG_MARKER.length - 12;
  const total = SIG_MARKER.length + 12 + ko[info + 3]! + ko[info + 4]! + ko.readUInt32BE(info + 8);
  return total > ko.length ? ko : ko.subarray(0, ko.length - total);
}

/** Module contents, uncompressed (busybox insmod wants plain ELF). */
export async function readModule(file: string): Promise<Buffer> {
  if (file.endsWith('.ko')) return readFile(file);
  const { gunzipSync } = await import('node:zlib');
  if (file.endsWith('.gz')) return gunzipSync(await readFile(file));
  // xz/zstd are not in Node 20's zlib; the tools are standard on Debian hosts.
  const tool = file.endsWith('.xz') ? 'xz' : 'zstd';
  // execa is loaded on use: importing it costs ~0.1 s of every topo command's start.
  const { stdout } = await (await import('execa')).execa(tool, ['-dc', file], { encoding: 'buffer', stripFinalNewline: false });
  return Buffer.from(stdout);
}

/**
 * Index of the modules reachable from `wanted` in an unpacked /lib/modules/<release> directory:
 * modules.dep when the package has one, else the modules' own .modinfo (Debian 12 case).
 */
export async function readModuleIndex(modDir: string, wanted: readonly string[]): Promise<{ index: ModuleIndex; builtin: Set<string> }> {
  const builtinFile = join(modDir, 'modules.builtin');
  const builtin = existsSync(builtinFile) ? parseModulesBuiltin(await readFile(builtinFile, 'utf8')) : new Set<string>();
  const depFile = join(modDir, 'modules.dep');
  if (existsSync(depFile)) return { index: parseModulesDep(await readFile(depFile, 'utf8')), builtin };

  const paths = new Map<string, string>();
  for (const p of (await readFile(join(modDir, 'modules.order'), 'utf8')).split('\n')) {
    if (!p.trim()) continue;
    // modules.order lists plain .ko names even when the files on disk are compressed.
    const found = ['', '.xz', '.zst', '.gz'].map((ext) => p.trim() + ext).find((c) => existsSync(join(modDir, c)));
    if (found) paths.set(moduleName(found), found);
  }
  const index: ModuleIndex = new Map();
  const queue = wanted.map((w) => w.replace(/-/g, '_'));
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (index.has(name) || builtin.has(name)) continue;
    const path = paths.get(name);
    if (!path) continue; // moduleLoadOrder reports it with context
    const depends = readModinfo(await readModule(join(modDir, path))).get('depends') ?? '';
    const deps = depends.split(',').filter(Boolean).map((d) => d.replace(/-/g, '_'));
    index.set(name, { path, deps });
    queue.push(...deps);
  }
  return { index, builtin };
}
