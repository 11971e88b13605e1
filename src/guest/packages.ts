// The default guest's inputs: Debian's cloud kernel and busybox-static, resolved with apt-cache and
// fetched with `apt-get download` (no root needed once package lists exist), unpacked with dpkg-deb.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TopoError } from '../errors.js';

export const KERNEL_META_PACKAGE = 'linux-image-cloud-amd64';
export const BUSYBOX_PACKAGE = 'busybox-static';

export interface GuestInputs {
  /** Versioned kernel package the metapackage depends on, e.g. linux-image-6.1.0-56-cloud-amd64. */
  readonly kernelPackage: string;
  /** Candidate version of the kernel metapackage (same source version as the kernel package). */
  readonly kernelPackageVersion: string;
  readonly busyboxVersion: string;
}

const FIX = 'run: apt-get update';

function tail(text: string): string {
  return text.trim().split('\n').slice(-5).join('\n');
}

/** Throws E_ABORTED once `signal` fired: the one way a stopped guest build ends. */
export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new TopoError('stopped before the default guest was built', { code: 'E_ABORTED' });
}

/** Runs an apt or dpkg tool; aborting kills its whole process group (apt's download methods too). */
async function run(tool: string, args: string[], opts: { cwd?: string; signal?: AbortSignal } = {}) {
  const { signal } = opts;
  checkAborted(signal);
  // Its own group only when someone can abort it: otherwise the terminal's Ctrl-C reaches it directly.
  // execa is loaded on use: importing it costs ~0.1 s of every topo command's start.
  const child = (await import('execa')).execa(tool, args, { cwd: opts.cwd, reject: false, env: { LC_ALL: 'C' }, detached: signal !== undefined });
  const kill = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  signal?.addEventListener('abort', kill, { once: true });
  const r = await child.finally(() => signal?.removeEventListener('abort', kill));
  checkAborted(signal);
  // With reject:false a spawn failure (ENOENT) is a result without an exit code, not a throw.
  if (r.exitCode === undefined) {
    throw new TopoError(`${tool} not found: the default guest is built from Debian packages`, {
      code: 'E_GUEST_APT',
      hint: 'build on a Debian or Ubuntu host, or give the node its own kernel and initrd',
      cause: r,
    });
  }
  return r;
}

/** Parses `apt-cache show` paragraphs into Package -> fields. */
export function parseAptShow(text: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const para of text.split(/\n\s*\n/)) {
    const fields: Record<string, string> = {};
    for (const line of para.split('\n')) {
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (m) fields[m[1]!] = m[2]!;
    }
    if (fields.Package && !out.has(fields.Package)) out.set(fields.Package, fields);
  }
  return out;
}

/** Resolves the candidate versions from the local package lists (no network). */
export async function resolveInputs(signal?: AbortSignal): Promise<GuestInputs> {
  const r = await run('apt-cache', ['show', '--no-all-versions', KERNEL_META_PACKAGE, BUSYBOX_PACKAGE], { signal });
  const pkgs = parseAptShow(String(r.stdout));
  const missing = [KERNEL_META_PACKAGE, BUSYBOX_PACKAGE].find((p) => !pkgs.get(p)?.Version);
  const meta = pkgs.get(KERNEL_META_PACKAGE);
  // The kernel ABI package is the metapackage's first dependency named linux-image-*.
  const kernelPackage = /(?:^|,\s*)(linux-image-[0-9][^\s,(|]*)/.exec(meta?.Depends ?? '')?.[1];
  if (missing || !kernelPackage) {
    throw new TopoError(`cannot resolve ${missing ?? KERNEL_META_PACKAGE}: apt-get update has not been run or the package is not in the configured Debian suites`, {
      code: 'E_GUEST_APT',
      hint: FIX,
      stderrTail: tail(String(r.stderr)),
      stderrSource: 'apt-cache',
    });
  }
  return { kernelPackage, kernelPackageVersion: meta!.Version!, busyboxVersion: pkgs.get(BUSYBOX_PACKAGE)!.Version! };
}

/** Downloads one package's .deb into `dir` and returns its path. */
export async function downloadPackage(pkg: string, dir: string, signal?: AbortSignal): Promise<string> {
  const r = await run('apt-get', ['download', '-q', pkg], { cwd: dir, signal });
  const debs = (await readdir(dir)).filter((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (r.exitCode !== 0 || debs.length !== 1) {
    throw new TopoError(`cannot download ${pkg}: apt-get update has not been run or the mirror is unreachable`, {
      code: 'E_GUEST_DOWNLOAD',
      hint: FIX,
      stderrTail: tail(String(r.stderr)),
      stderrSource: 'apt-get',
    });
  }
  return join(dir, debs[0]!);
}

/** Unpacks a .deb's data into `dest`; returns the package's Version field. */
export async function unpackPackage(deb: string, dest: string, signal?: AbortSignal): Promise<string> {
  const x = await run('dpkg-deb', ['-x', deb, dest], { signal });
  const f = await run('dpkg-deb', ['-f', deb, 'Version'], { signal });
  if (x.exitCode !== 0 || f.exitCode !== 0) {
    throw new TopoError(`cannot unpack ${deb}: dpkg-deb failed`, {
      code: 'E_GUEST_UNPACK',
      hint: 'the download may be corrupt; run topo guest build --force',
      stderrTail: tail(String(x.stderr) + String(f.stderr)),
      stderrSource: 'dpkg-deb',
    });
  }
  return String(f.stdout).trim();
}
