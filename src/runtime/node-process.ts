// One QEMU process: spawn with inherited socketpair fds, console log + readiness, QMP, agent, graceful stop.
import { createWriteStream, type WriteStream } from 'node:fs';
import type net from 'node:net';
import { execa, type ResultPromise } from 'execa';
import { TopoError } from '../errors.js';
import { AgentClient } from '../guest/agent-client.js';
import { QmpClient } from '../qemu/qmp.js';
import type { FdSlot, NodePlan } from '../qemu/plan.js';
import { closeFd, socketFromFd, socketPair } from './fds.js';
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

  constructor(private readonly opts: NodeProcessOptions) {
    this.node = opts.plan.node;
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
  }

  /** Spawn QEMU and resolve once the ready patterns were seen; reject on exit or timeout. */
  async start(): Promise<void> {
    const { plan } = this.opts;
    const childFds: number[] = [];
    const ownEnds: { slot: FdSlot; fd: number }[] = [];
    try {
      for (const slot of plan.fdSlots) {
        if (slot.kind === 'link') {
          childFds.push(this.opts.linkFd(slot));
          continue;
        }
        const [mine, theirs] = socketPair();
        ownEnds.push({ slot, fd: mine });
        childFds.push(theirs);
      }
    } catch (err) {
      for (const fd of [...childFds, ...ownEnds.map((e) => e.fd)]) closeFd(fd);
      throw err;
    }
    this.log = createWriteStream(this.opts.consoleLog, { flags: 'a' });
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
      for (const fd of childFds) closeFd(fd);
    }
    this.pid = this.child.pid;
    this.child.stdout?.on('data', (b: Buffer) => this.stderr.push(b));
    this.child.stderr?.on('data', (b: Buffer) => this.stderr.push(b));
    void this.child.then((result) => this.onExit(result.exitCode, result.signal));

    const ready = this.watchReadiness(ownEnds);
    for (const { slot, fd } of ownEnds) this.attach(slot, fd);
    await ready;
  }

  /** QMP quit, then SIGTERM, then SIGKILL; resolves when the process is gone. */
  async stop(graceMs = 3000): Promise<ExitInfo> {
    if (!this.child || this.hasExited) return this.exited;
    const gone = (ms: number) => Promise.race([this.exited.then(() => true), delay(ms).then(() => false)]);
    this.qmp?.execute('quit').catch(() => undefined);
    if (await gone(graceMs)) return this.exited;
    this.child.kill('SIGTERM');
    if (await gone(2000)) return this.exited;
    this.child.kill('SIGKILL');
    return this.exited;
  }

  kill(): void {
    if (!this.hasExited) this.child?.kill('SIGKILL');
  }

  get running(): boolean {
    return this.child !== undefined && !this.hasExited;
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
      this.qmp.connect().catch(() => undefined);
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
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new TopoError(`not ready after ${Math.round(this.opts.readyTimeoutMs / 1000)} s (waiting for ${pending.map((p) => `/${p.source}/`).join(', ')} on the console)`, {
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
      if (pending.length === 0 || !hasConsole) return done();
      this.readyWaiters.push((line) => {
        for (let i = pending.length - 1; i >= 0; i--) if (pending[i]!.test(line)) pending.splice(i, 1);
        if (pending.length === 0) done();
      });
      void this.exited.then((info) => {
        clearTimeout(timer);
        reject(exitError(this.node, info, 'before it became ready'));
      });
    });
  }

  private onExit(code: number | undefined, signal: string | undefined): void {
    this.hasExited = true;
    for (const s of this.sockets) s.destroy();
    this.log?.end();
    this.resolveExit({ code, signal, ...this.tails() });
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

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
