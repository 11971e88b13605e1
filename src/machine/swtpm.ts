// One swtpm per uefi node launch, on a socketpair (no file-system socket): QEMU's -tpmdev emulator gets the other end.
import { setTimeout as sleep } from 'node:timers/promises';
import { readSync, writeSync } from 'node:fs';
import { cp, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { TopoError } from '../errors.js';
import { closeFd, socketPair } from '../host/fds.js';
import { spawnGroup, type GroupChild, type Janitor } from '../host/proc-group.js';
import { ByteTail } from '../host/tail.js';
import { retry } from '../host/wait.js';

export const SWTPM_BINARY = 'swtpm';
export const SWTPM_SETUP_BINARY = 'swtpm_setup';

/** swtpm_setup's argv for a manufactured TPM 2.0: EK and platform certificates, as a real TPM ships (guests expecting a provisioned TPM work). */
export function swtpmSetupArgs(stateDir: string): string[] {
  return ['--tpm2', '--tpmstate', stateDir, '--create-ek-cert', '--create-platform-cert', '--lock-nvram', '--not-overwrite'];
}

/**
 * Fill a node's (empty, private) TPM state directory before its first swtpm: a copy of prepared state (the
 * original is only read), or a freshly manufactured TPM.
 */
export async function prepareTpmState(node: string, stateDir: string, from: string | undefined, binary = SWTPM_SETUP_BINARY): Promise<void> {
  if (from !== undefined) {
    await cp(from, stateDir, { recursive: true, errorOnExist: false, force: true }).catch((err: unknown) => {
      throw new TopoError(`cannot copy TPM state from ${from}: ${(err as Error).message}`, { code: 'E_SWTPM', node, hint: `check that ${from} is a readable directory of swtpm state`, cause: err });
    });
    return;
  }
  // execa is loaded on use: importing it costs ~0.1 s of every topo command's start.
  const r = await (await import('execa')).execa(binary, swtpmSetupArgs(stateDir), { reject: false, all: true });
  if (r.exitCode === 0) return;
  const notFound = r.exitCode === undefined;
  throw new TopoError(notFound ? `${binary} not found (needed to manufacture the TPM)` : `${binary} failed with exit code ${r.exitCode}`, {
    code: 'E_SWTPM',
    node,
    hint: notFound ? 'install it: apt-get install swtpm-tools' : 'see its message; or give prepared state with tpm: { state: DIR }',
    stderrTail: String(r.all ?? '').trim().split('\n').slice(-5).join('\n'),
  });
}
/** The fd swtpm sees its end of the control channel on (the first slot after stdio). */
export const SWTPM_CTRL_FD = 3;

/** swtpm's control-channel commands (swtpm's tpm_ioctl.h), big-endian on the wire. */
const CMD_INIT = 2;

export interface SwtpmOptions {
  node: string;
  /** TPM state directory; kept across launches of the node within a run. */
  stateDir: string;
  binary?: string;
  /** How long swtpm may take to answer its first command. */
  initTimeoutMs?: number;
  janitor?: Janitor;
}

export interface SwtpmExit {
  code?: number;
  signal?: string;
  stderrTail: string;
}

/**
 * argv after `swtpm`. The state dir is given relative to swtpm's cwd (its parent), because swtpm's option
 * parser has no escaping: a comma anywhere in the run directory's path would otherwise split the option.
 */
export function swtpmArgs(stateDir: string): string[] {
  const name = path.basename(stateDir);
  if (name.includes(',')) throw new TopoError(`TPM state directory name ${JSON.stringify(name)} contains a comma`, { code: 'E_SWTPM', hint: 'rename the node' });
  return ['socket', '--tpm2', '--tpmstate', `dir=./${name},mode=0600`, '--ctrl', `type=unixio,clientfd=${SWTPM_CTRL_FD}`, '--terminate'];
}

export class Swtpm {
  readonly exited: Promise<SwtpmExit>;
  private readonly stderr = new ByteTail();
  private done = false;

  private constructor(
    readonly node: string,
    private readonly child: GroupChild,
    /** The parent's end of the control channel, until handed to QEMU with takeQemuFd(). */
    private ctrlFd: number | undefined,
  ) {
    child.child.stdout?.on('data', (b: Buffer) => this.stderr.push(b));
    child.child.stderr?.on('data', (b: Buffer) => this.stderr.push(b));
    this.exited = child.exited.then((r) => {
      this.done = true;
      return { code: r.code, signal: r.signal, stderrTail: this.stderr.text() };
    });
  }

  get pid(): number | undefined {
    return this.child.pid > 0 ? this.child.pid : undefined;
  }

  get running(): boolean {
    return !this.done;
  }

  /** Start swtpm and check it initialises its TPM; on failure nothing is left running and E_SWTPM is thrown. */
  static async start(opts: SwtpmOptions): Promise<Swtpm> {
    const fail = (why: string, extra: { stderrTail?: string; stderrSource?: string; cause?: unknown } = {}) =>
      new TopoError(`swtpm ${why}`, { code: 'E_SWTPM', node: opts.node, hint: `see swtpm's message; TPM state is in ${opts.stateDir}`, ...extra });
    try {
      await mkdir(opts.stateDir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw fail(`cannot create its state directory ${opts.stateDir}: ${(err as Error).message}`, { cause: err });
    }
    const args = swtpmArgs(opts.stateDir);
    const [mine, theirs] = socketPair();
    let child: GroupChild;
    try {
      // Its own process group under pdeathsig, like QEMU: dies with topo, never sees the terminal's Ctrl-C.
      child = spawnGroup([opts.binary ?? SWTPM_BINARY, ...args], { cwd: path.dirname(opts.stateDir), fds: [theirs], janitor: opts.janitor });
    } catch (err) {
      closeFd(mine);
      throw fail(`could not be started: ${(err as Error).message}`, { cause: err });
    } finally {
      closeFd(theirs);
    }
    const tpm = new Swtpm(opts.node, child, mine);
    try {
      const result = await tpm.command(CMD_INIT, opts.initTimeoutMs ?? 10_000);
      if (result !== 0) throw new Error(`TPM initialisation failed (result 0x${result.toString(16)})`);
    } catch (err) {
      await tpm.stop();
      const info = await tpm.exited;
      const last = info.stderrTail.split('\n').filter(Boolean).at(-1);
      throw fail(`failed to start: ${last ?? (err as Error).message}`, { stderrTail: info.stderrTail, stderrSource: 'swtpm', cause: err });
    }
    return tpm;
  }

  /** The control channel's parent end for QEMU; the caller owns (and closes) it from now on. */
  takeQemuFd(): number {
    const fd = this.ctrlFd;
    if (fd === undefined) throw new Error('swtpm control fd already taken');
    this.ctrlFd = undefined;
    return fd;
  }

  /** SIGTERM, then SIGKILL; resolves once swtpm is reaped. */
  async stop(): Promise<SwtpmExit> {
    closeFd(this.ctrlFd);
    this.ctrlFd = undefined;
    if (!this.done) {
      this.child.kill('SIGTERM');
      const gone = await Promise.race([this.exited.then(() => true), sleep(2000, undefined, { ref: false }).then(() => false)]);
      if (!gone) this.child.kill('SIGKILL');
    }
    return this.exited;
  }

  /**
   * One control command without payload beyond 4 zero bytes; returns the 32-bit result. The fd is a raw
   * non-blocking socket (it goes to QEMU afterwards, so no net.Socket may own it): poll with short sleeps.
   */
  private async command(cmd: number, timeoutMs: number): Promise<number> {
    const fd = this.ctrlFd!;
    const req = Buffer.alloc(8);
    req.writeUInt32BE(cmd, 0);
    writeSync(fd, req);
    const res = Buffer.alloc(4);
    let got = 0;
    await retry(
      () => {
        let n: number;
        try {
          n = readSync(fd, res, got, res.length - got, null);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
          if (this.done) throw new Error('exited');
          return false;
        }
        if (n === 0) throw new Error('exited');
        got += n;
        return got === res.length;
      },
      { what: `swtpm's answer to command ${cmd}`, timeoutMs, intervalMs: 2, ref: false, retryOn: () => false },
    );
    return res.readUInt32BE(0);
  }
}
