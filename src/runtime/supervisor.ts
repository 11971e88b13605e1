// Boots nodes in dependency order with a bounded number booting at once, then watches them; emits events only.
import { EventEmitter } from 'node:events';
import { TopoError } from '../errors.js';
import { bootOrder } from '../topology/graph.js';
import type { NodePlan } from '../qemu/plan.js';
import type { ResolvedNode, ResolvedTopology } from '../topology/model.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsoleHub } from '../machine/console.js';
import type { NodeState, SupervisorEvent } from '../api/events.js';
import type { LinkFabric } from '../net/links.js';
import { exitError, NodeProcess, type ExitInfo, type LinePattern } from '../machine/node-process.js';
import type { Janitor } from '../host/proc-group.js';
import { AdaptiveSlots, fixedSlots, type BootSlots } from './boot-slots.js';
import { GUEST_EXIT_WORDS, guestExitCause, parseConsoleLine } from '../guest/console-lines.js';

export interface SupervisorOptions {
  topology: ResolvedTopology;
  plans: ReadonlyMap<string, NodePlan>;
  readyPatterns: ReadonlyMap<string, readonly LinePattern[]>;
  readyTimeoutMs: (node: ResolvedNode) => number;
  /** Nodes that count as ready once QMP greets (no console pattern to wait for). */
  readyOnQmp?: (node: ResolvedNode) => boolean;
  /** swtpm state directory for nodes with tpm: true. */
  tpmStateDir?: (node: ResolvedNode) => string | undefined;
  fabric: LinkFabric;
  /** An fd for the node's console log, opened safely by the run directory. */
  openConsoleLog: (node: string) => number | undefined;
  /** The console log path named in hints, when it outlives the lab (--keep). */
  consoleLogHint?: (node: string) => string | undefined;
  /** Nodes booting (spawned, not yet ready) at once; undefined = measured (AdaptiveSlots). */
  jobs?: number;
  /** Restarts allowed per node for restart: on-failure. */
  maxRestarts?: number;
  /** First restart delay; doubles per restart up to RESTART_BACKOFF_CAP_MS. */
  restartBackoffMs?: number;
  env?: Record<string, string>;
  janitor?: Janitor;
}

export const MAX_RESTARTS = 5;
export const RESTART_BACKOFF_MS = 1000;
export const RESTART_BACKOFF_CAP_MS = 10_000;

export class Supervisor extends EventEmitter<{ event: [SupervisorEvent] }> {
  readonly states = new Map<string, NodeState>();
  readonly procs = new Map<string, NodeProcess>();
  readonly readyMs = new Map<string, number>();
  private readonly t0 = Date.now();
  private readonly restarts = new Map<string, number>();
  private stopping = false;
  private fatal?: (err: TopoError) => void;
  /** Resolves with the first unrecoverable failure after the lab was ready. */
  readonly failure: Promise<TopoError>;
  private readonly slots: BootSlots;
  /** One console per node, kept across restarts so readers and the log continue. */
  readonly consoles = new Map<string, ConsoleHub>();
  readonly restartCounts: ReadonlyMap<string, number>;
  private readonly allowReboot: ReadonlySet<string>;

  constructor(private readonly opts: SupervisorOptions) {
    super();
    this.slots = opts.jobs ? fixedSlots(opts.jobs) : new AdaptiveSlots();
    this.restartCounts = this.restarts;
    this.failure = new Promise((resolve) => (this.fatal = resolve));
    this.allowReboot = new Set(opts.topology.nodes.filter((n) => n.allowReboot).map((n) => n.name));
    for (const node of opts.topology.nodes) {
      this.states.set(node.name, 'waiting');
      const hub = new ConsoleHub(opts.openConsoleLog(node.name));
      hub.on('line', (line) => this.onConsoleLine(node.name, line));
      this.consoles.set(node.name, hub);
    }
  }

  /** Resolve when every node is ready; reject with the first failure (the caller tears down). */
  async start(): Promise<void> {
    // The dependency graph's topological order: every node's dependencies have their boot promise before it.
    const ready = new Map<string, Promise<void>>();
    const byName = new Map(this.opts.topology.nodes.map((n) => [n.name, n]));
    for (const name of bootOrder(this.opts.topology)) {
      const node = byName.get(name)!;
      const deps = node.dependsOn.map((d) => ready.get(d)!);
      ready.set(name, Promise.all(deps).then(() => this.bootWithSlot(node)));
    }
    this.emit('event', { type: 'lab', state: 'starting', at: this.elapsed() });
    const all = [...ready.values()];
    // Fail fast: the first failure aborts the lab even while other nodes are still booting.
    await new Promise<void>((resolve, reject) => {
      Promise.all(all).then(() => resolve(), reject);
      for (const p of all) p.catch(reject);
    });
    this.emit('event', { type: 'lab', state: 'ready', at: this.elapsed(), detail: `all ${this.opts.topology.nodes.length} nodes ready` });
  }

  /** Graceful (QMP quit, SIGTERM, SIGKILL) or forced (SIGKILL now) stop of every QEMU. */
  async stopAll(force = false): Promise<void> {
    this.stopping = true;
    this.slots.close();
    for (const w of this.backoffs.splice(0)) w.abort();
    await Promise.all([...this.procs.values()].map((proc) => this.stopOne(proc, force)));
    for (const hub of this.consoles.values()) hub.close();
  }

  private readonly backoffs: AbortController[] = [];

  /** Stop a node gracefully and boot it again (its forwarded links reconnect; a direct link cannot). */
  async restartNode(name: string): Promise<void> {
    await this.stopNode(name);
    this.setState(name, 'restarting', { detail: 'restart requested' });
    await this.bootWithSlot(this.nodeByName(name));
  }

  /** Stop one node gracefully (QMP quit, SIGTERM, SIGKILL); the rest of the lab keeps running. */
  async stopNode(name: string): Promise<void> {
    this.nodeByName(name);
    const proc = this.procs.get(name);
    if (!proc?.running) return;
    this.procs.delete(name);
    this.setState(name, 'stopping');
    await proc.stop();
    this.setState(name, 'stopped');
  }

  /** Boot a node that was stopped (or failed) again. */
  async startNode(name: string): Promise<void> {
    const node = this.nodeByName(name);
    if (this.procs.get(name)?.running) throw new TopoError(`node ${name} is already running`, { code: 'E_RUNNING', node: name });
    await this.bootWithSlot(node);
  }

  /** SIGKILL a node's QEMU as a crash would (restart: on-failure brings it back). */
  killNode(name: string): void {
    this.nodeByName(name);
    this.procs.get(name)?.kill(false);
  }

  private nodeByName(name: string): ResolvedNode {
    const node = this.opts.topology.nodes.find((n) => n.name === name);
    if (!node) throw new TopoError(`no node "${name}" (nodes: ${this.opts.topology.nodes.map((n) => n.name).join(', ')})`, { code: 'E_NO_NODE' });
    return node;
  }

  private readonly stops = new Map<NodeProcess, Promise<void>>();

  /** One graceful stop per process; a later forced call only escalates it to SIGKILL. */
  private stopOne(proc: NodeProcess, force: boolean): Promise<void> {
    if (force) proc.kill();
    let stop = this.stops.get(proc);
    if (!stop) {
      if (!proc.running) return Promise.resolve();
      this.setState(proc.node, 'stopping');
      stop = (force ? proc.exited : proc.stop()).then(() => this.setState(proc.node, 'stopped'));
      this.stops.set(proc, stop);
    }
    return stop;
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  private async bootWithSlot(node: ResolvedNode): Promise<void> {
    await this.slots.take();
    try {
      await this.launch(node);
    } finally {
      this.slots.release();
    }
  }

  private async launch(node: ResolvedNode): Promise<void> {
    if (this.stopping) throw new TopoError('lab is stopping', { code: 'E_STOPPING', node: node.name });
    const proc = new NodeProcess({
      plan: this.opts.plans.get(node.name)!,
      console: this.consoles.get(node.name)!,
      consoleLogHint: this.opts.consoleLogHint?.(node.name),
      readyPatterns: this.opts.readyPatterns.get(node.name) ?? [],
      readyTimeoutMs: this.opts.readyTimeoutMs(node),
      readyOnQmp: this.opts.readyOnQmp?.(node),
      tpmStateDir: this.opts.tpmStateDir?.(node),
      onSpawn: (pid) => this.setState(node.name, 'booting', { pid }),
      linkFd: (slot) => this.opts.fabric.fdFor(node.name, slot.iface, slot.link),
      env: this.opts.env,
      janitor: this.opts.janitor,
    });
    this.procs.set(node.name, proc);
    this.setState(node.name, 'starting');
    const started = Date.now();
    try {
      await proc.start();
    } catch (err) {
      proc.kill(false);
      await proc.exited;
      const error = err instanceof TopoError ? err : new TopoError(String(err), { code: 'E_LAUNCH', node: node.name, cause: err });
      // A stop the user asked for is not a failure, whatever the launch saw (SIGKILL, a closed channel).
      if (this.stopping) this.setState(node.name, 'stopped');
      else this.setState(node.name, 'failed', { error, detail: error.message });
      throw error;
    }
    const readyMs = Date.now() - started;
    this.readyMs.set(node.name, readyMs);
    this.setState(node.name, 'ready', { readyMs, pid: proc.pid });
    void proc.exited.then((info) => this.onUnexpectedExit(node, proc, info));
  }

  private async onUnexpectedExit(node: ResolvedNode, proc: NodeProcess, info: ExitInfo): Promise<void> {
    if (this.stopping || this.procs.get(node.name) !== proc) return;
    if (info.requested) {
      this.setState(node.name, 'stopped');
      return;
    }
    const cause = info.reason === undefined && info.signal === undefined && info.code === 0 ? guestExitCause(info.consoleTail) : undefined;
    const error = cause
      ? new TopoError(`${GUEST_EXIT_WORDS[cause]}: QEMU exited`, { code: 'E_GUEST_EXIT', node: node.name, stderrTail: info.stderrTail, consoleTail: info.consoleTail })
      : exitError(node.name, info, 'unexpectedly');
    // A lab node that leaves by itself failed, even with QEMU's exit code 0; only a power-off under restart: never is a stop.
    if (cause === 'poweroff' && node.restart === 'never') {
      this.emit('event', { type: 'notice', message: `${node.name}: the guest powered off` });
      this.setState(node.name, 'stopped', { detail: 'the guest powered off' });
      return;
    }
    const count = this.restarts.get(node.name) ?? 0;
    const max = this.opts.maxRestarts ?? MAX_RESTARTS;
    if (node.restart === 'on-failure' && count < max) {
      this.restarts.set(node.name, count + 1);
      const delay = Math.min((this.opts.restartBackoffMs ?? RESTART_BACKOFF_MS) * 2 ** count, RESTART_BACKOFF_CAP_MS);
      this.setState(node.name, 'restarting', { error, detail: `${error.message}; restart ${count + 1}/${max} in ${(delay / 1000).toFixed(1)} s` });
      const wait = new AbortController();
      this.backoffs.push(wait);
      try {
        await sleep(delay, undefined, { signal: wait.signal });
        await this.bootWithSlot(node);
        return;
      } catch (err) {
        if (this.stopping) return;
        this.fatal?.(err instanceof TopoError ? err : error);
        return;
      } finally {
        this.backoffs.splice(this.backoffs.indexOf(wait) >>> 0, 1);
      }
    }
    const limit = node.restart === 'on-failure' ? ` (gave up after ${max} restarts)` : '';
    this.setState(node.name, 'failed', { error, detail: `${error.message}${limit}` });
    this.fatal?.(error);
  }

  private onConsoleLine(node: string, line: string): void {
    this.emit('event', { type: 'console', node, line });
    // allow_reboot: the machine resets inside the same QEMU; the node stays ready (its links and overlay survive).
    const parsed = parseConsoleLine(line);
    if (parsed?.kind === 'guest-exit' && parsed.cause !== 'poweroff' && this.states.get(node) === 'ready' && this.allowReboot.has(node)) {
      const what = `guest rebooted${parsed.cause === 'panic' ? ' after a kernel panic' : ''}`;
      this.procs.get(node)?.agent?.guestReset(`the ${what} before it answered`);
      this.emit('event', { type: 'notice', message: `${node}: ${what}` });
    }
    // A failed run: command must be visible in every output mode, not only with --follow.
    if (parsed?.kind === 'run-failed') this.emit('event', { type: 'notice', message: `${node}: ${parsed.detail}` });
  }

  private setState(node: string, state: NodeState, extra: { readyMs?: number; pid?: number; detail?: string; error?: TopoError } = {}): void {
    this.states.set(node, state);
    this.emit('event', { type: 'node', node, state, at: this.elapsed(), ...extra });
  }

  /** ms since the supervisor was created: the `at` of every event. */
  elapsed(): number {
    return Date.now() - this.t0;
  }
}
