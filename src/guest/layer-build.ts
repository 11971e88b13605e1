// Builds one package layer: apt-get download of exact versions, dpkg-deb -x into one tree, the accounts and
// runtime directories maintainer scripts would have made, then one read-only erofs image of the tree.
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TopoError } from '../errors.js';
import type { ResolvedPackage } from './apt-closure.js';
import { checkAborted } from './packages.js';
import { emptyAccounts, parsePostinst, parseSysusers, parseTmpfiles, renderAccounts, type RuntimeDir } from './layer-users.js';

export const LAYER_IMAGE = 'layer.img';
/** Where the guest finds the directories to create at boot (guest/init.sh). */
export const LAYER_DIRS_FILE = 'usr/lib/topo/layer.dirs';
/** Documentation, manuals and translations: nothing a lab runs needs them. */
/** Top-level directories the guest overlays with the layer's (the same list is in guest/init.sh). */
export const OVERLAID = ['bin', 'sbin', 'lib', 'lib64', 'usr', 'etc', 'var', 'opt', 'srv'];
const DROPPED = ['usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/locale', 'usr/share/lintian', 'run', 'var/run'];

async function tool(cmd: string, args: string[], opts: { cwd?: string; signal?: AbortSignal } = {}) {
  checkAborted(opts.signal);
  const r = await (await import('execa')).execa(cmd, args, { cwd: opts.cwd, reject: false, env: { LC_ALL: 'C' }, cancelSignal: opts.signal });
  checkAborted(opts.signal);
  return r;
}

const tail = (s: string) => s.trim().split('\n').slice(-4).join('\n');

/** Downloads every package's exact version into `dir`; returns the .deb paths. */
export async function downloadAll(request: readonly string[], pkgs: readonly ResolvedPackage[], dir: string, signal?: AbortSignal): Promise<string[]> {
  const r = await tool('apt-get', ['download', '-q', ...pkgs.map((p) => `${p.name}=${p.version}`)], { cwd: dir, signal });
  const debs = (await readdir(dir)).filter((f) => f.endsWith('.deb'));
  if (r.exitCode !== 0 || debs.length !== pkgs.length) {
    throw new TopoError(`cannot download packages ${request.join(' ')} (${pkgs.length} with their dependencies): ${r.exitCode === undefined ? 'apt-get not found' : 'apt-get download failed'}`, {
      code: 'E_PACKAGE_DOWNLOAD',
      hint: 'check the network and run apt-get update; once built, a layer is used offline',
      stderrTail: tail(String(r.stderr)),
      stderrSource: 'apt-get',
    });
  }
  return debs.map((d) => join(dir, d));
}

/** A few at a time: dpkg-deb is mostly waiting on decompression and the disk. */
async function pool<T>(items: readonly T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

async function readAll(dir: string, suffix: string): Promise<string[]> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith(suffix)).sort();
  return Promise.all(names.map((n) => readFile(join(dir, n), 'utf8')));
}

/** mkdir lines of a postinst for /var and /run directories (e.g. FRR's /var/log/frr). */
function postinstDirs(text: string): RuntimeDir[] {
  const out: RuntimeDir[] = [];
  for (const m of text.matchAll(/^\s*mkdir\s+(?:-m\s*([0-7]{3,4})\s+|-p\s+|-m([0-7]{3,4})\s+)*((?:\/var|\/run)\/[A-Za-z0-9._/-]+)\s*$/gm)) {
    out.push({ path: m[3]!.replace(/^\/var\/run\//, '/run/'), mode: m[1] ?? m[2] ?? '0755', user: 'root', group: 'root' });
  }
  return out;
}

export interface BuiltLayer {
  readonly image: string;
  readonly users: string[];
  readonly groups: string[];
  readonly dirs: RuntimeDir[];
  readonly debBytes: number;
}

/** Everything in `tmp`; the caller removes it. */
export async function buildLayerImage(tmp: string, request: readonly string[], pkgs: readonly ResolvedPackage[], progress: (m: string) => void, signal?: AbortSignal): Promise<BuiltLayer> {
  const dl = join(tmp, 'dl');
  const root = join(tmp, 'root');
  const ctl = join(tmp, 'ctl');
  await Promise.all([dl, root, ctl].map((d) => mkdir(d)));
  progress(`downloading ${pkgs.length} packages`);
  const debs = await downloadAll(request, pkgs, dl, signal);
  progress('unpacking packages');
  let debBytes = 0;
  await pool(debs, 3, async (deb) => {
    const name = deb.slice(dl.length + 1).replace(/_.*/, '');
    const x = await tool('dpkg-deb', ['-x', deb, root], { signal });
    const e = await tool('dpkg-deb', ['-e', deb, join(ctl, name)], { signal });
    if (x.exitCode !== 0 || e.exitCode !== 0) {
      throw new TopoError(`cannot unpack ${deb}: dpkg-deb failed`, { code: 'E_GUEST_UNPACK', stderrTail: tail(String(x.stderr) + String(e.stderr)), stderrSource: 'dpkg-deb' });
    }
    debBytes += (await readFile(deb)).length;
  });

  const accounts = emptyAccounts();
  for (const t of await readAll(join(root, 'usr/lib/sysusers.d'), '.conf')) parseSysusers(t, accounts);
  const dirs: RuntimeDir[] = [];
  for (const name of (await readdir(ctl)).sort()) {
    const postinst = join(ctl, name, 'postinst');
    if (!existsSync(postinst)) continue;
    const text = await readFile(postinst, 'utf8');
    parsePostinst(text, accounts);
    // A directory named after an account the script made is that account's (FRR's /var/log/frr: its postinst chowns it).
    for (const d of postinstDirs(text)) {
      const name = d.path.slice(d.path.lastIndexOf('/') + 1);
      const owner = accounts.users.get(name);
      dirs.push(owner ? { ...d, user: name, group: owner.group } : d);
    }
  }
  for (const t of await readAll(join(root, 'usr/lib/tmpfiles.d'), '.conf')) dirs.push(...parseTmpfiles(t));
  const { passwd, group } = renderAccounts(accounts);
  await mkdir(join(root, 'etc'), { recursive: true });
  await mkdir(join(root, 'usr/lib/topo'), { recursive: true });
  await writeFile(join(root, 'etc/passwd'), passwd);
  await writeFile(join(root, 'etc/group'), group);
  await writeFile(join(root, LAYER_DIRS_FILE), dirs.map((d) => `${d.path} ${d.mode} ${d.user} ${d.group}\n`).join(''));
  for (const d of DROPPED) await rm(join(root, d), { recursive: true, force: true });
  // Only these are overlaid in the guest (guest/init.sh); base-files' /proc, /sys, /tmp, ... stay out.
  for (const top of await readdir(root)) if (!OVERLAID.includes(top)) await rm(join(root, top), { recursive: true, force: true });

  progress('writing the layer image');
  const image = join(tmp, LAYER_IMAGE);
  // --all-root: owned by root whoever builds it; -T0: the same packages give the same image.
  const mk = await tool('mkfs.erofs', ['--quiet', '--all-root', '-T0', image, root], { signal });
  if (mk.exitCode !== 0) {
    throw new TopoError(mk.exitCode === undefined ? 'mkfs.erofs not found: packages: are stored as an erofs image' : 'mkfs.erofs failed', {
      code: 'E_LAYER_BUILD',
      hint: 'install it: apt-get install erofs-utils',
      stderrTail: tail(String(mk.stderr)),
      stderrSource: 'mkfs.erofs',
    });
  }
  return { image, users: [...accounts.users.keys()].sort(), groups: [...accounts.groups.keys()].sort(), dirs, debBytes };
}
