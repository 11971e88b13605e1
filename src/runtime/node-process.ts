// One QEMU process: spawn with inherited socketpair fds, console log + readiness, QMP, agent, graceful stop.
import { setTimeout as sleep } from 'node:timers/promises';
import type { WriteStream } from 'node:fs';
import type net from 'node:net';
import { execa, type ResultPromise } from 'execa';
import { TopoError } from '../errors.js';
import { AgentClient } from '../guest/agent-client.js';
import { QmpClient } from '../qemu/qmp.js';
import type { FdSlot, NodePlan } from '../qemu/plan.js';
import { closeFd, socketFromFd, socketPair } from './fds.js';
import { Swtpm } from './swtpm.js';
import { openAppendStream } from './safe-fs.js';
import { ByteTail, LineSplitter, LineTail } from './tail.js';

export interface ExitInfo {
  code?: number;
  signal?: string;
  stderrTail: string;
  consoleTail: string;
}

export interface NodeProcessOptions {
  plan: NodePlan;
  consoleLog: string;
  /** Patterns that must all have appeared on the console for the node to count as ready. */
  readyPatterns: readonly RegExp[];
  readyTimeoutMs: number;
  /** Ready once QMP greets (QEMU runs) instead of on console patterns; used when there are none. */
  readyOnQmp?: boolean;
  /** State directory of the node's swtpm (plans with a tpm slot); kept across launches. */
  tpmStateDir?: string;
  /** Called right after QEMU is spawned (after swtpm is up, for TPM nodes). */
  onSpawn?: (pid: number | undefined) => void;
  /** Parent-side fd for a link slot; the process closes it right after spawn. */
  linkFd: (slot: Extract<FdSlot, { kind: 'link' }>) => number;
  onConsoleLine?: (line: string) => void;
  env?: Record<string, string>;
}

/** Wraps the binary so QEMU dies with us even on SIGKILL of topo (the kernel sends it SIGKILL). */
export function deathLinkedArgv(plan: NodePlan): [string, string[]] {
  return ['setpriv', ['--pdeathsig', 'KILL', '--', plan.binary, ...plan.argv]];
}

export class NodeProcess {
  readonly node: string;
  pid?: number;
  qmp?: QmpClient;
  agent?: AgentClient;
  readonly exited: Promise<ExitInfo>;
  private child?: ResultPromise;
  private resolveExit!: (info: ExitInfo) => void;
  private readonly stderr = new ByteTail();
  private readonly console = new LineTail();
  private log?: WriteStream;
  private sockets: net.Socket[] = [];
  private hasExited = false;
  private tpm?: Swtpm;
  private qmpConnected?: Promise<void>;
  /** Between start() and the spawn (swtpm is starting); stop/kill then cancel the launch. */
  private starting = false;
  private cancelled = false;

  constructor(private readonly opts: NodeProcessOptions) {
    this.node = opts.plan.node;
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
  }

  /** Spawn QEMU (after its swtpm, if any) and resolve once ready; reject on exit or timeout. */
  async start(): Promise<void> {
    const { plan } = this.opts;
    const childFds: number[] = [];
    const ownEnds: { slot: FdSlot; fd: number }[] = [];
    this.starting = true;
    try {
      if (plan.fdSlots.some((s) => s.kind === 'tpm')) {
        const stateDir = this.opts.tpmStateDir;
        if (!stateDir) throw new Error('NodeProcess: a tpm slot needs tpmStateDir');
        this.tpm = await Swtpm.start({ node: this.node, stateDir });
        if (this.cancelled) throw new TopoError('stopped while starting', { code: 'E_STOPPING', node: this.node });
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
      this.starting = false;
      void this.onExit(undefined, undefined);
      throw err;
    }
    this.log = openAppendStream(this.opts.consoleLog);
    const [file, args] = deathLinkedArgv(plan);
    try {
      this.child = execa(file, args, {
        // execa passes integer fds through to child_process (dup2 into the slot) but its types don't list them.
        stdio: ['ignore', 'pipe', 'pipe', ...childFds] as unknown as ['ignore', 'pipe', 'pipe'],
        reject: false,
        buffer: false,
        cleanup: true,
        env: this.opts.env,
      });
    } finally {
      this.starting = false;
      for (const fd of childFds) closeFd(fd);
    }
    this.pid = this.child.pid;
    this.opts.onSpawn?.(this.pid);
    this.child.stdout?.on('data', (b: Buffer) => this.stderr.push(b));
    this.child.stderr?.on('data', (b: Buffer) => this.stderr.push(b));
    void this.child.then((result) => this.onExit(result.exitCode, result.signal));

    for (const { slot, fd } of ownEnds) this.attach(slot, fd);
    await this.watchReadiness(ownEnds);
  }

  get swtpmPid(): number | undefined {
    return this.tpm?.pid;
  }

  /** QMP quit, then SIGTERM, then SIGKILL; resolves when the process is gone. */
  async stop(graceMs = 3000): Promise<ExitInfo> {
    if (this.starting) this.cancelled = true;
    if (!this.child || this.hasExited) return this.exited;
    const gone = (ms: number) => Promise.race([this.exited.then(() => true), sleep(ms, undefined, { ref: false }).then(() => false)]);
    this.qmp?.execute('quit').catch(() => undefined);
    if (await gone(graceMs)) return this.exited;
    this.child.kill('SIGTERM');
    if (await gone(2000)) return this.exited;
    this.child.kill('SIGKILL');
    return this.exited;
  }

  kill(): void {
    if (this.starting) this.cancelled = true;
    if (!this.hasExited) this.child?.kill('SIGKILL');
  }

  get running(): boolean {
    return (this.child !== undefined || this.starting) && !this.hasExited;
  }

  tails(): { stderrTail: string; consoleTail: string } {
    return { stderrTail: this.stderr.text(), consoleTail: this.console.text() };
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
    } else if (slot.kind === 'console') {
      const splitter = new LineSplitter();
      sock.setEncoding('utf8');
      sock.on('data', (chunk: string) => {
        this.log?.write(chunk);
        splitter.push(chunk, (line) => this.onConsoleLine(line));
      });
    }
  }

  private readyWaiters: ((line: string) => void)[] = [];

  private onConsoleLine(line: string): void {
    this.console.push(line);
    this.opts.onConsoleLine?.(line);
    for (const w of this.readyWaiters) w(line);
  }

  private watchReadiness(ownEnds: { slot: FdSlot }[]): Promise<void> {
    const pending = [...this.opts.readyPatterns];
    const hasConsole = ownEnds.some((e) => e.slot.kind === 'console');
    const onQmp = pending.length === 0 && this.opts.readyOnQmp ? this.qmpConnected : undefined;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new TopoError(`not ready after ${Math.round(this.opts.readyTimeoutMs / 1000)} s (waiting for ${onQmp ? 'the QMP greeting' : `${pending.map((p) => `/${p.source}/`).join(', ')} on the console`})`, {
            code: 'E_READY_TIMEOUT',
            node: this.node,
            hint: `see ${this.opts.consoleLog}; raise ready.timeout if the guest is just slow`,
            ...this.tails(),
          }),
        );
      }, this.opts.readyTimeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      if (onQmp) onQmp.then(done, () => undefined);
      else if (pending.length === 0 || !hasConsole) return done();
      else {
        this.readyWaiters.push((line) => {
          for (let i = pending.length - 1; i >= 0; i--) if (pending[i]!.test(line)) pending.splice(i, 1);
          if (pending.length === 0) done();
        });
      }
      void this.exited.then((info) => {
        clearTimeout(timer);
        reject(exitError(this.node, info, 'before it became ready'));
      });
    });
  }

  private async onExit(code: number | undefined, signal: string | undefined): Promise<void> {
    this.hasExited = true;
    for (const s of this.sockets) s.destroy();
    this.log?.end();
    // swtpm goes with its QEMU (it would end on its own once the channel closes); `exited` means both are reaped.
    const tpm = this.tpm ? await this.tpm.stop() : undefined;
    const tails = this.tails();
    const failedTpm = tpm && (tpm.code ?? 0) !== 0 && tpm.stderrTail;
    this.resolveExit({ code, signal, ...tails, stderrTail: failedTpm ? `${tails.stderrTail}\nswtpm: ${tpm.stderrTail}`.trim() : tails.stderrTail });
  }
}

export function exitError(node: string, info: ExitInfo, when: string): TopoError {
  const how = info.signal ? `was killed by ${info.signal}` : `exited with code ${info.code}`;
  const firstStderr = info.stderrTail.split('\n').filter(Boolean).at(-1);
  return new TopoError(`QEMU ${how} ${when}${firstStderr ? `: ${firstStderr}` : ''}`, {
    code: 'E_QEMU_EXIT',
    node,
    stderrTail: info.stderrTail,
    consoleTail: info.consoleTail,
  });
}
