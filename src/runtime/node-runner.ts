// One node of a lab: its launches (a NodeProcess each), its restart policy and what its console says, from its own
// read-only launch description; it tells the supervisor what happens through one events object.
import { setTimeout as sleep } from 'node:timers/promises';
import { TopoError } from '../errors.js';
import { GUEST_EXIT_WORDS, guestExitCause, parseConsoleLine } from '../guest/console-lines.js';
import type { NodePlan } from '../qemu/plan.js';
import type { RestartPolicy } from '../topology/model.js';
import type { NodeState, SupervisorEvent } from '../api/events.js';
import { ConsoleHub } from '../machine/console.js';
import { exitError, isRequestedStop, NodeProcess, type ExitInfo, type LinePattern } from '../machine/node-process.js';
import type { Janitor } from '../host/proc-group.js';
import type { BootSlots } from './boot-slots.js';

/** Everything one node needs to run, computed once before the lab starts. */
export interface NodeSpec {
  readonly name: string;
  readonly plan: NodePlan;
  readonly readyPatterns: readonly LinePattern[];
  readonly readyTimeoutMs: number;
  /** Ready once QMP greets (no console pattern to wait for). */
  readonly readyOnQmp: boolean;
  /** swtpm state directory (tpm: true). */
  readonly tpmStateDir?: string;
  /** The console log path named in hints, when it outlives the lab (--keep). */
  readonly consoleLogHint?: string;
  readonly restart: RestartPolicy;
  readonly allowReboot: boolean;
  readonly dependsOn: readonly string[];
}

/** A node as readers see it: a copy, never the runner's own state. */
export interface NodeSnapshot {
  readonly name: string;
  readonly state: NodeState;
  /** The QEMU's pid while a launch is live. */
  readonly pid?: number;
  readonly restarts: number;
  readonly readyMs?: number;
}

/** What a runner tells its supervisor. */
export interface NodeEvents {
  event(e: SupervisorEvent): void;
  /** An unrecoverable failure after the lab was ready. */
  fatal(err: TopoError): void;
}

/** What the lab lends every node: boot slots, link fds and the lab-wide stop. */
export interface NodeContext {
  readonly slots: BootSlots;
  linkFd(node: string, iface: string, link: string): number;
  readonly env?: Record<string, string>;
  readonly janitor?: Janitor;
  readonly maxRestarts: number;
  readonly restartBackoffMs: number;
  readonly restartBackoffCapMs: number;
  /** The lab is stopping: no new launch, and a launch that fails meanwhile was stopped, not failed. */
  readonly stopping: boolean;
  elapsed(): number;
}

export class NodeRunner {
  /** One console per node, kept across launches so readers and the log continue. */
  readonly console: ConsoleHub;
  private state: NodeState = 'waiting';
  private proc?: NodeProcess;
  private readyMs?: number;
  private restarts = 0;
  private backoff?: AbortController;
  private teardown?: { proc: NodeProcess; done: Promise<void> };

  constructor(
    readonly spec: NodeSpec,
    consoleLogFd: number | undefined,
    private readonly ctx: NodeContext,
    private readonly events: NodeEvents,
  ) {
    this.console = new ConsoleHub(consoleLogFd);
    this.console.on('line', (line) => this.onConsoleLine(line));
  }

  snapshot(): NodeSnapshot {
    const live = this.live();
    return { name: this.spec.name, state: this.state, pid: live?.pid, restarts: this.restarts, readyMs: this.readyMs };
  }

  /** The current launch while it is live (agent, QMP, channels, tails). */
  live(): NodeProcess | undefined {
    return this.proc?.live ? this.proc : undefined;
  }

  /** Boot in a free slot; rejects with the launch's failure. */
  async boot(): Promise<void> {
    await this.ctx.slots.take();
    try {
      await this.launch();
    } finally {
      this.ctx.slots.release();
    }
  }

  /** Stop gracefully for `reason`; the rest of the lab keeps running. */
  async stop(reason: 'requested' | 'restart'): Promise<void> {
    const proc = this.live();
    if (!proc) return;
    this.proc = undefined;
    this.setState('stopping');
    await proc.stop(reason);
    this.setState('stopped');
  }

  /** SIGKILL the QEMU as a crash would (restart: on-failure brings it back). */
  crash(): void {
    void this.proc?.stop('failure', { force: true });
  }

  /** The lab goes: one graceful stop per launch; a later forced call only escalates it to SIGKILL. */
  stopForTeardown(force: boolean): Promise<void> {
    this.backoff?.abort();
    const proc = this.proc;
    if (!proc) return Promise.resolve();
    if (force) void proc.stop('teardown', { force: true });
    if (this.teardown?.proc !== proc) {
      if (!proc.live) return Promise.resolve();
      this.setState('stopping');
      this.teardown = { proc, done: (force ? proc.exited : proc.stop('teardown')).then(() => this.setState('stopped')) };
    }
    return this.teardown.done;
  }

  setState(state: NodeState, extra: { readyMs?: number; pid?: number; detail?: string; error?: TopoError } = {}): void {
    this.state = state;
    this.events.event({ type: 'node', node: this.spec.name, state, at: this.ctx.elapsed(), ...extra });
  }

  private async launch(): Promise<void> {
    const { spec } = this;
    if (this.ctx.stopping) throw new TopoError('lab is stopping', { code: 'E_STOPPING', node: spec.name });
    const proc = new NodeProcess({
      plan: spec.plan,
      console: this.console,
      consoleLogHint: spec.consoleLogHint,
      readyPatterns: spec.readyPatterns,
      readyTimeoutMs: spec.readyTimeoutMs,
      readyOnQmp: spec.readyOnQmp,
      tpmStateDir: spec.tpmStateDir,
      onSpawn: (pid) => this.setState('booting', { pid }),
      linkFd: (slot) => this.ctx.linkFd(spec.name, slot.iface, slot.link),
      env: this.ctx.env,
      janitor: this.ctx.janitor,
    });
    this.proc = proc;
    this.setState('starting');
    const started = Date.now();
    try {
      await proc.start();
    } catch (err) {
      void proc.stop('failure', { force: true });
      await proc.exited;
      const error = err instanceof TopoError ? err : new TopoError(String(err), { code: 'E_LAUNCH', node: spec.name, cause: err });
      // A stop the user asked for is not a failure, whatever the launch saw (SIGKILL, a closed channel).
      if (this.ctx.stopping) this.setState('stopped');
      else this.setState('failed', { error, detail: error.message });
      throw error;
    }
    this.readyMs = Date.now() - started;
    this.setState('ready', { readyMs: this.readyMs, pid: proc.pid });
    void proc.exited.then((info) => this.onExit(proc, info));
  }

  private async onExit(proc: NodeProcess, info: ExitInfo): Promise<void> {
    const { spec } = this;
    if (this.ctx.stopping || this.proc !== proc) return;
    if (isRequestedStop(info.stopReason)) {
      this.setState('stopped');
      return;
    }
    const cause = info.reason === undefined && info.signal === undefined && info.code === 0 ? guestExitCause(info.consoleTail) : undefined;
    const error = cause
      ? new TopoError(`${GUEST_EXIT_WORDS[cause]}: QEMU exited`, { code: 'E_GUEST_EXIT', node: spec.name, stderrTail: info.stderrTail, consoleTail: info.consoleTail })
      : exitError(spec.name, info, 'unexpectedly');
    // A lab node that leaves by itself failed, even with QEMU's exit code 0; only a power-off under restart: never is a stop.
    if (cause === 'poweroff' && spec.restart === 'never') {
      this.events.event({ type: 'notice', message: `${spec.name}: the guest powered off` });
      this.setState('stopped', { detail: 'the guest powered off' });
      return;
    }
    const count = this.restarts;
    const max = this.ctx.maxRestarts;
    if (spec.restart === 'on-failure' && count < max) {
      this.restarts = count + 1;
      const delay = Math.min(this.ctx.restartBackoffMs * 2 ** count, this.ctx.restartBackoffCapMs);
      this.setState('restarting', { error, detail: `${error.message}; restart ${count + 1}/${max} in ${(delay / 1000).toFixed(1)} s` });
      const wait = (this.backoff = new AbortController());
      try {
        await sleep(delay, undefined, { signal: wait.signal });
        await this.boot();
      } catch (err) {
        if (!this.ctx.stopping) this.events.fatal(err instanceof TopoError ? err : error);
      } finally {
        if (this.backoff === wait) this.backoff = undefined;
      }
      return;
    }
    const limit = spec.restart === 'on-failure' ? ` (gave up after ${max} restarts)` : '';
    this.setState('failed', { error, detail: `${error.message}${limit}` });
    this.events.fatal(error);
  }

  private onConsoleLine(line: string): void {
    const node = this.spec.name;
    this.events.event({ type: 'console', node, line });
    const parsed = parseConsoleLine(line);
    // allow_reboot: the machine resets inside the same QEMU; the node stays ready (its links and overlay survive).
    if (parsed?.kind === 'guest-exit' && parsed.cause !== 'poweroff' && this.state === 'ready' && this.spec.allowReboot) {
      const what = `guest rebooted${parsed.cause === 'panic' ? ' after a kernel panic' : ''}`;
      this.proc?.agent?.guestReset(`the ${what} before it answered`);
      this.events.event({ type: 'notice', message: `${node}: ${what}` });
    }
    // A failed run: command must be visible in every output mode, not only with --follow.
    if (parsed?.kind === 'run-failed') this.events.event({ type: 'notice', message: `${node}: ${parsed.detail}` });
  }
}
