// One virtiofsd per share per node launch (issue 19's shares:), confined on the host side: bwrap gives it a private
// mount namespace where the host directory is a bind mount (ro for read-only shares; always nosuid,nodev), and a
// seccomp filter that refuses setuid/setgid bits and device nodes; its capabilities exclude chown, setuid, mknod.
import { setTimeout as sleep } from 'node:timers/promises';
import { closeSync, openSync } from 'node:fs';
import { lstat, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TopoError } from '../errors.js';
import type { PlannedShare } from '../qemu/plan.js';
import type { ResolvedNode, ResolvedTopology } from '../topology/model.js';
import { locateNodeField } from '../topology/locate.js';
import { findExecutable } from './preflight.js';
import { spawnGroup, type GroupChild, type Janitor } from '../host/proc-group.js';
import { shareSeccompFilter } from './share-seccomp.js';
import { ByteTail } from '../host/tail.js';
import { retry } from '../host/wait.js';

export const VIRTIOFSD_BINARY = '/usr/lib/qemu/virtiofsd';
export const BWRAP_BINARY = 'bwrap';

/** One share of one node as the runtime runs it: the plan's entry (its socket is <runDir>/<base>.sock). */
export type ShareLaunch = PlannedShare;

/**
 * Capabilities virtiofsd keeps by default, minus these: no chown (files stay the topo user's), no setuid/setgid (it
 * cannot take a guest user's identity: creations by guest non-root users fail), no mknod, fowner, fsetid, setfcap.
 */
const DROPPED_CAPS = ['chown', 'fowner', 'fsetid', 'mknod', 'setuid', 'setgid', 'setfcap'];
/** fd 3 of bwrap: the seccomp program. */
const SECCOMP_FD = 3;

/** argv (bwrap first) of one share's virtiofsd (plannedShares refused run directories its -o parser would split). */
export function virtiofsdArgv(s: ShareLaunch, binary = VIRTIOFSD_BINARY): string[] {
  const mnt = path.join(s.runDir, `${s.base}.mnt`);
  return [
    BWRAP_BINARY, '--dev-bind', '/', '/',
    // bwrap's binds are nosuid,nodev; --ro-bind adds ro (enforced by the host kernel, whatever the guest does).
    s.writable ? '--bind' : '--ro-bind', s.host, mnt,
    '--seccomp', String(SECCOMP_FD), '--die-with-parent', '--chdir', s.runDir, '--',
    // Absolute: virtiofsd names its pid file (and lock) after the socket path, so it must differ between labs.
    binary, `--socket-path=${s.socket}`, '-o', `source=${mnt}`,
    '-o', `modcaps=${DROPPED_CAPS.map((c) => `-${c}`).join(':')}`, '-o', 'no_xattr', '-o', 'cache=auto', '-o', 'log_level=warn',
  ];
}

export interface VirtiofsdExit {
  code?: number;
  signal?: string;
  stderrTail: string;
}

export class Virtiofsd {
  readonly exited: Promise<VirtiofsdExit>;
  private readonly stderr = new ByteTail();
  private done = false;

  private constructor(readonly node: string, readonly share: ShareLaunch, private readonly child: GroupChild) {
    child.child.stdout?.on('data', (b: Buffer) => this.stderr.push(b));
    child.child.stderr?.on('data', (b: Buffer) => this.stderr.push(b));
    this.exited = child.exited.then((r) => {
      this.done = true;
      return { code: r.code, signal: r.signal, stderrTail: this.stderr.text() };
    });
  }

  get socket(): string {
    return this.share.socket;
  }

  get pid(): number | undefined {
    return this.child.pid > 0 ? this.child.pid : undefined;
  }

  /** Start it and wait for its socket; on failure nothing is left running and E_VIRTIOFSD is thrown. */
  static async start(node: string, share: ShareLaunch, opts: { janitor?: Janitor; binary?: string; timeoutMs?: number } = {}): Promise<Virtiofsd> {
    const fail = (why: string, extra: { stderrTail?: string; cause?: unknown } = {}) =>
      new TopoError(`virtiofsd for share ${share.host} ${why}`, { code: 'E_VIRTIOFSD', node, hint: "see virtiofsd's message", stderrSource: 'virtiofsd', ...extra });
    const bpf = path.join(share.runDir, `${share.base}.bpf`);
    let fd: number | undefined;
    let child: GroupChild;
    try {
      await mkdir(path.join(share.runDir, `${share.base}.mnt`), { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
      await writeFile(bpf, shareSeccompFilter(), { mode: 0o600 });
      fd = openSync(bpf, 'r');
      // Its own process group under pdeathsig, like QEMU: dies with topo, never sees the terminal's Ctrl-C.
      child = spawnGroup(virtiofsdArgv(share, opts.binary), { cwd: share.runDir, fds: [fd], janitor: opts.janitor });
    } catch (err) {
      throw fail(`could not be started: ${(err as Error).message}`, { cause: err });
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    const d = new Virtiofsd(node, share, child);
    const isSocket = () => lstat(d.socket).then((st) => st.isSocket(), () => false);
    const up = await retry(async () => d.done || (await isSocket()), { what: `virtiofsd's socket ${d.socket}`, timeoutMs: opts.timeoutMs ?? 10_000, intervalMs: 5, ref: false }).catch(() => false);
    if (d.done || !up) {
      await d.stop();
      const info = await d.exited;
      const last = info.stderrTail.split('\n').filter(Boolean).at(-1);
      throw fail(`failed to start: ${last ?? (d.done ? `exited with code ${info.code}` : 'no socket within the timeout')}`, { stderrTail: info.stderrTail });
    }
    return d;
  }

  /** SIGTERM, then SIGKILL; resolves once it is reaped. */
  async stop(): Promise<VirtiofsdExit> {
    if (!this.done) {
      this.child.kill('SIGTERM');
      const gone = await Promise.race([this.exited.then(() => true), sleep(2000, undefined, { ref: false }).then(() => false)]);
      if (!gone) this.child.kill('SIGKILL');
    }
    return this.exited;
  }
}

/** Before any VM: the host can serve shares (virtiofsd, bwrap, root), else one line naming what to install. */
export async function preflightShares(topology: ResolvedTopology, opts: { binary?: string; uid?: number } = {}): Promise<void> {
  const nodes = topology.nodes.filter((n) => (n.shares ?? []).length > 0);
  if (nodes.length === 0) return;
  const node = nodes[0]!;
  const pos = await locateNodeField(topology.file, node.name, 'shares').catch(() => undefined);
  const where = { node: node.name, file: topology.file, line: pos?.line, column: pos?.column };
  const binary = opts.binary ?? VIRTIOFSD_BINARY;
  if (!(await findExecutable(binary))) {
    throw new TopoError(`shares: need virtiofsd (${binary} not found)`, { code: 'E_NO_VIRTIOFSD', ...where, hint: 'install it: apt-get install qemu-system-common' });
  }
  if (!(await findExecutable(BWRAP_BINARY))) {
    throw new TopoError('shares: need bwrap (bubblewrap) to confine virtiofsd', { code: 'E_NO_VIRTIOFSD', ...where, hint: 'install it: apt-get install bubblewrap' });
  }
  if ((opts.uid ?? process.getuid?.() ?? 0) !== 0) {
    throw new TopoError("shares: need root (QEMU 7.2's virtiofsd runs as root)", { code: 'E_NO_VIRTIOFSD', ...where, hint: 'run topo as root, or drop shares: and use files: or topo cp' });
  }
}

/** Longest path a unix socket address holds (sun_path, with its NUL). */
const MAX_SOCKET_PATH = 107;

/** The guest's mount tag of a node's share `i` (guest/init.sh mounts it at the share's guest path). */
export const shareTag = (i: number) => `topo-share${i}`;

/** A node's shares as launched in `runDir`; their sockets must fit a unix socket address. */
export function plannedShares(node: ResolvedNode, runDir: string): PlannedShare[] | undefined {
  if (!node.shares || node.shares.length === 0) return undefined;
  return node.shares.map((s, i) => {
    const base = `${node.name}.share${i}`;
    const socket = path.join(runDir, `${base}.sock`);
    // virtiofsd's -o parser splits on commas and takes backslashes as escapes; the share's own path never reaches it.
    if (/[,\\]/.test(runDir)) {
      throw new TopoError(`the run directory's path has a comma or backslash, which virtiofsd cannot take (${runDir})`, { code: 'E_VIRTIOFSD', node: node.name, hint: 'set TOPO_RUN_DIR (or --run-dir) to a plain directory path' });
    }
    if (socket.length > MAX_SOCKET_PATH) {
      throw new TopoError(`the run directory's path is too long for the socket of a share (${socket})`, { code: 'E_VIRTIOFSD', node: node.name, hint: 'set TOPO_RUN_DIR (or --run-dir) to a shorter directory' });
    }
    return { tag: shareTag(i), host: s.host, writable: s.writable, runDir, base, socket };
  });
}
