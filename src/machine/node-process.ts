// One QEMU launch: its own process group, inherited socketpair fds, console into the node's hub, QMP, agent, channels, swtpm.
import { setTimeout as sleep } from 'node:timers/promises';
import type net from 'node:net';
import { TopoError } from '../errors.js';
import { AgentClient } from '../guest/agent-client.js';
import { QmpClient } from '../qemu/qmp.js';
import type { FdSlot, NodePlan } from '../qemu/plan.js';
import type { ConsoleHub } from './console.js';
import { closeFd, socketFromFd, socketPair } from '../host/fds.js';
import { spawnGroup, type GroupChild, type Janitor } from '../host/proc-group.js';
import { watchReadiness, type LinePattern } from './readiness.js';
import { Swtpm } from './swtpm.js';
import { Virtiofsd } from './virtiofsd.js';
import { ByteTail, LineTail } from '../host/tail.js';
import { exitError, isRequestedStop, signalName, type ExitInfo, type NodeProcessState, type StopReason } from './exit-info.js';

export type { LinePattern } from './readiness.js';
export { exitError, isRequestedStop, type ExitInfo, type NodeProcessState, type StopReason } from './exit-info.js';

export interface NodeProcessOptions {
  plan: NodePlan;
  /** The node's console (kept across launches): log file, readers, input. */
  console: ConsoleHub;
  /** Patterns that must all have appeared on the console for the node to count as ready. */
  readyPatterns: readonly LinePattern[];
  readyTimeoutMs: number;
  /** Named in the ready-timeout hint (a kept path, or none when the run directory goes away). */
  consoleLogHint?: string;
  /** Ready once QMP greets (QEMU runs) instead of on console patterns; used when there are none. */
  readyOnQmp?: boolean;
  /** State directory of the node's swtpm (plans with a tpm slot); kept across launches. */
  tpmStateDir?: string;
  /** Parent-side fd for a link slot; the process closes it right after spawn. */
  linkFd: (slot: Extract<FdSlot, { kind: 'link' }>) => number;
  /** Called right after QEMU is spawned (after swtpm is up, for TPM nodes). */
  onSpawn?: (pid: number) => void;
  env?: Record<string, string>;
  janitor?: Janitor;
}

/**
 * A microvm has no PCI and the kernel says so on every boot; `pci=off` does not quiet it (measured on the Debian 6.1
 * kernel). Left out of failure reports' console tails, where it alarmed users; the console log keeps it.
 */
const HARMLESS_CONSOLE = /^(\[\s*\d+\.\d+\] )?PCI: Fatal: No config space access function found$/;

export class NodeProcess {
  readonly node: string;
  pid?: number;
  qmp?: QmpClient;
  agent?: AgentClient;
  /** Parent ends of the node's extra virtio-serial channels, by name. */
  readonly channels = new Map<string, net.Socket>();
  readonly exited: Promise<ExitInfo>;
  private child?: GroupChild;
  private resolveExit!: (info: ExitInfo) => void;
  private readonly stderr = new ByteTail();
  // Long enough to hold a panic's header above its stack trace (what guestExitCause looks for).
  private readonly consoleTail = new LineTail(100);
  private sockets: net.Socket[] = [];
  private tpm?: Swtpm;
  private fsds: Virtiofsd[] = [];
  private qmpConnected?: Promise<void>;
  private _state: NodeProcessState = 'idle';
  /** The first stop's reason (a later one may only escalate it to SIGKILL). */
  private _stopReason?: StopReason;
  private reason?: string;
  private failLaunch?: (reason: string) => void;
  private consoleSock?: net.Socket;
  private readonly onLine = (line: string) => {
    if (!HARMLESS_CONSOLE.test(line)) this.consoleTail.push(line);
  };
  private readonly onFault = (err: Error) => this.fail(err.message);

  constructor(private readonly opts: NodeProcessOptions) {
    this.node = opts.plan.node;
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
  }

  /** Spawn QEMU (after its swtpm, if any) and resolve once ready; reject on exit or timeout. */
  async start(): Promise<void> {
    const { plan } = this.opts;
    const childFds: number[] = [];
    const ownEnds: { slot: FdSlot; fd: number }[] = [];
    if (this._state !== 'idle') throw new Error(`NodeProcess ${this.node}: start() called twice`);
    this._state = 'starting';
    try {
      if (plan.fdSlots.some((s) => s.kind === 'tpm')) {
        const stateDir = this.opts.tpmStateDir;
        if (!stateDir) throw new Error('NodeProcess: a tpm slot needs tpmStateDir');
        this.tpm = await Swtpm.start({ node: this.node, stateDir, janitor: this.opts.janitor });
        if (this.state === 'stopping') throw new TopoError('stopped while starting', { code: 'E_STOPPING', node: this.node });
      }
      for (const share of plan.shares ?? []) {
        this.fsds.push(await Virtiofsd.start(this.node, share, { janitor: this.opts.janitor }));
        if (this.state === 'stopping') throw new TopoError('stopped while starting', { code: 'E_STOPPING', node: this.node });
      }
      for (const slot of plan.fdSlots) {
        if (slot.kind === 'link' || slot.kind === 'tpm') {
          childFds.push(slot.kind === 'link' ? this.opts.linkFd(slot) : this.tpm!.takeQemuFd());
          continue;
        }
        const [mine, theirs] = socketPair();
        ownEnds.push({ slot, fd: mine });
        childFds.push(theirs);
      }
    } catch (err) {
      for (const fd of [...childFds, ...ownEnds.map((e) => e.fd)]) closeFd(fd);
      // Nothing was spawned: stop swtpm and settle `exited`, so callers awaiting it don't hang.
      void this.onExit(undefined, undefined);
      throw err;
    }
    try {
      this.child = spawnGroup([plan.binary, ...plan.argv], { fds: childFds, env: this.opts.env, janitor: this.opts.janitor });
    } finally {
      for (const fd of childFds) closeFd(fd);
    }
    this.pid = this.child.pid;
    this.opts.onSpawn?.(this.pid);
    this.child.child.stdout?.on('data', (b: Buffer) => this.stderr.push(b));
    this.child.child.stderr?.on('data', (b: Buffer) => this.stderr.push(b));
    void this.child.exited.then((r) => this.onExit(r.code, r.signal));
    this.opts.console.on('line', this.onLine);
    this.opts.console.on('fault', this.onFault);
    // swtpm is part of the node: if it dies, the node fails (and restarts by its policy).
    void this.tpm?.exited.then((info) => {
      if (this._state !== 'exited' && !this.stopped) this.fail(`swtpm ${info.signal ? `was killed by ${info.signal}` : `exited with code ${info.code}`}`);
    });
    // So is each share's virtiofsd: the guest's mount would hang or fail without it.
    for (const fsd of this.fsds) {
      void fsd.exited.then((info) => {
        if (this._state === 'exited' || this.stopped) return;
        const last = info.stderrTail.split('\n').filter(Boolean).at(-1);
        // bwrap passes on its child's death by a signal as 128 + N.
        const signal = info.signal ?? (info.code !== undefined && info.code > 128 ? signalName(info.code - 128) : undefined);
        this.fail(`virtiofsd of share ${fsd.share.host} ${signal ? `was killed by ${signal}` : `exited with code ${info.code}`}${last ? `: ${last}` : ''}`);
      });
    }

    for (const { slot, fd } of ownEnds) this.attach(slot, fd);
    // Stopped while swtpm or virtiofsd started: there was no QEMU to ask, so it goes now.
    if (this.state === 'stopping') this.child.kill('SIGKILL');
    try {
      await this.untilReady(ownEnds.some((e) => e.slot.kind === 'console'));
    } finally {
      this.failLaunch = undefined;
    }
    if (this.state === 'starting') this._state = 'running';
  }

  get state(): NodeProcessState {
    return this._state;
  }

  get stopReason(): StopReason | undefined {
    return this._stopReason;
  }

  /** A launch or a QEMU that is not yet reaped: starting, running or stopping. */
  get live(): boolean {
    return this._state !== 'idle' && this._state !== 'exited';
  }

  /** A stop that is not a failure was asked for. */
  private get stopped(): boolean {
    return isRequestedStop(this._stopReason);
  }

  /** Readiness, or the first fault (log write error, swtpm death): a ready line in the same console chunk must not win. */
  private untilReady(hasConsole: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.failLaunch = (reason) => reject(new TopoError(reason, { code: 'E_NODE_FAULT', node: this.node, ...this.tails() }));
      watchReadiness({
        node: this.node,
        console: this.opts.console,
        patterns: this.opts.readyPatterns,
        timeoutMs: this.opts.readyTimeoutMs,
        onQmp: this.opts.readyPatterns.length === 0 && this.opts.readyOnQmp ? this.qmpConnected : undefined,
        hasConsole,
        exited: this.exited.then((info) => exitError(this.node, info, 'before it became ready')),
        timeoutHint: this.opts.consoleLogHint
          ? `see ${this.opts.consoleLogHint}; raise ready.timeout if the guest is just slow`
          : 'raise ready.timeout if the guest is just slow; run with --keep to keep the console log',
        tails: () => this.tails(),
      }).then(resolve, reject);
    });
  }

  get swtpmPid(): number | undefined {
    return this.tpm?.pid;
  }

  /**
   * Stop the launch for `reason`: QMP quit, then SIGTERM, then SIGKILL to the process group, or SIGKILL at once with
   * `force`. The first reason sticks; a later call may only escalate to SIGKILL. Resolves when everything is reaped.
   */
  stop(reason: StopReason, opts: { force?: boolean; graceMs?: number } = {}): Promise<ExitInfo> {
    this._stopReason ??= reason;
    if (this._state === 'exited') return this.exited;
    if (this._state !== 'idle') this._state = 'stopping';
    // Nothing spawned yet (swtpm starting): start() ends the launch when it sees the state.
    if (!this.child) return this.exited;
    if (opts.force) {
      this.child.kill('SIGKILL');
      return this.exited;
    }
    if (!this.graceful) this.graceful = this.stopGracefully(this.child, opts.graceMs ?? 3000);
    return this.graceful;
  }

  private graceful?: Promise<ExitInfo>;

  private async stopGracefully(child: GroupChild, graceMs: number): Promise<ExitInfo> {
    const gone = (ms: number) => Promise.race([this.exited.then(() => true), sleep(ms, undefined, { ref: false }).then(() => false)]);
    this.qmp?.execute('quit').catch(() => undefined);
    if (await gone(graceMs)) return this.exited;
    child.kill('SIGTERM');
    if (await gone(2000)) return this.exited;
    child.kill('SIGKILL');
    return this.exited;
  }

  tails(): { stderrTail: string; consoleTail: string } {
    return { stderrTail: this.stderr.text(), consoleTail: this.consoleTail.text() };
  }

  /** Something topo depends on failed while QEMU runs: end the launch and report why. */
  private fail(reason: string): void {
    if (this._state === 'exited' || this.stopped) return;
    this.reason ??= reason;
    this.failLaunch?.(reason);
    void this.stop('failure', { force: true });
  }

  private attach(slot: FdSlot, fd: number): void {
    const sock = socketFromFd(fd);
    this.sockets.push(sock);
    sock.on('error', () => undefined);
    if (slot.kind === 'qmp') {
      this.qmp = new QmpClient(sock, this.node);
      this.qmpConnected = this.qmp.connect();
      this.qmpConnected.catch(() => undefined);
    } else if (slot.kind === 'agent') {
      this.agent = new AgentClient(sock, this.node);
    } else if (slot.kind === 'channel') {
      this.channels.set(slot.name, sock);
    } else if (slot.kind === 'console') {
      this.consoleSock = sock;
      sock.on('data', (chunk: Buffer) => this.opts.console.push(chunk));
      this.opts.console.setInput((b) => sock.write(b));
    }
  }

  private exitSeen = false;

  private async onExit(code: number | undefined, signal: string | undefined): Promise<void> {
    if (this.exitSeen) return;
    this.exitSeen = true;
    // QEMU's last words (a panic, "reboot: Restarting system") may still sit in the socket: read it to its end first.
    const con = this.consoleSock;
    if (con && !con.readableEnded && !con.destroyed) {
      await Promise.race([new Promise((r) => con.once('end', r).once('close', r)), sleep(500, undefined, { ref: false })]);
    }
    this.opts.console.flush();
    this.opts.console.setInput(undefined);
    this.opts.console.off('line', this.onLine);
    this.opts.console.off('fault', this.onFault);
    this.agent?.close();
    for (const s of this.sockets) s.destroy();
    // swtpm goes with its QEMU (it would end on its own once the channel closes); `exited` means both are reaped.
    const tpm = this.tpm ? await this.tpm.stop() : undefined;
    await Promise.all(this.fsds.map((d) => d.stop()));
    const tails = this.tails();
    const failedTpm = tpm && (tpm.code ?? 0) !== 0 && tpm.stderrTail;
    this._state = 'exited';
    this.resolveExit({
      code,
      signal,
      ...tails,
      stderrTail: failedTpm ? `${tails.stderrTail}\nswtpm: ${tpm.stderrTail}`.trim() : tails.stderrTail,
      reason: this.reason,
      // A fault wins over a stop asked for at the same time: the node failed.
      stopReason: this.reason ? 'failure' : this._stopReason,
    });
  }
}
