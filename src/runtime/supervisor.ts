// Boots nodes in dependency order with a bounded number booting at once, then watches them; emits events only.
// Each node is a NodeRunner (node-runner.ts) holding its own launches and restart policy.
import { EventEmitter } from 'node:events';
import { TopoError } from '../errors.js';
import type { SupervisorEvent } from '../api/events.js';
import type { ConsoleHub } from '../machine/console.js';
import type { NodeProcess } from '../machine/node-process.js';
import type { Janitor } from '../host/proc-group.js';
import { bootOrder } from '../topology/graph.js';
import { AdaptiveSlots, fixedSlots, type BootSlots } from './boot-slots.js';
import { NodeRunner, type NodeContext, type NodeSnapshot, type NodeSpec } from './node-runner.js';

export type { NodeSnapshot, NodeSpec } from './node-runner.js';

/** What the lab provides to its nodes (one object: the run directory's logs and the link fabric's fds). */
export interface NodeHost {
  /** An fd for the node's console log, opened safely by the run directory. */
  openConsoleLog(node: string): number | undefined;
  /** Parent-side fd of a link end (the launch closes it after spawn). */
  linkFd(node: string, iface: string, link: string): number;
}

export interface SupervisorOptions {
  /** In the file's order; depends_on names nodes of this list. */
  nodes: readonly NodeSpec[];
  host: NodeHost;
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
  private readonly t0 = Date.now();
  private stopping = false;
  private fatal?: (err: TopoError) => void;
  /** Resolves with the first unrecoverable failure after the lab was ready. */
  readonly failure: Promise<TopoError>;
  private readonly slots: BootSlots;
  private readonly runners = new Map<string, NodeRunner>();

  constructor(opts: SupervisorOptions) {
    super();
    this.slots = opts.jobs ? fixedSlots(opts.jobs) : new AdaptiveSlots();
    this.failure = new Promise((resolve) => (this.fatal = resolve));
    const sup = this;
    const ctx: NodeContext = {
      slots: this.slots,
      linkFd: (node, iface, link) => opts.host.linkFd(node, iface, link),
      env: opts.env,
      janitor: opts.janitor,
      maxRestarts: opts.maxRestarts ?? MAX_RESTARTS,
      restartBackoffMs: opts.restartBackoffMs ?? RESTART_BACKOFF_MS,
      restartBackoffCapMs: RESTART_BACKOFF_CAP_MS,
      get stopping() {
        return sup.stopping;
      },
      elapsed: () => this.elapsed(),
    };
    const events = { event: (e: SupervisorEvent) => void this.emit('event', e), fatal: (err: TopoError) => this.fatal?.(err) };
    for (const spec of opts.nodes) this.runners.set(spec.name, new NodeRunner(spec, opts.host.openConsoleLog(spec.name), ctx, events));
  }

  /** Every node's state, pid, restarts and boot time, in the file's order (a copy). */
  nodes(): NodeSnapshot[] {
    return [...this.runners.values()].map((r) => r.snapshot());
  }

  node(name: string): NodeSnapshot {
    return this.runner(name).snapshot();
  }

  /** The node's console (one across its launches). */
  console(name: string): ConsoleHub {
    return this.runner(name).console;
  }

  /** The node's current launch while it is live (agent, QMP, channels); undefined when it is not running. */
  process(name: string): NodeProcess | undefined {
    return this.runner(name).live();
  }

  /** Resolve when every node is ready; reject with the first failure (the caller tears down). */
  async start(): Promise<void> {
    // Level by level (each in the file's order), so the first boot slots go as they always did; every node's
    // dependencies have their boot promise before it.
    const ready = new Map<string, Promise<void>>();
    for (const r of this.bootOrder()) {
      const deps = r.spec.dependsOn.map((d) => ready.get(d)!);
      ready.set(r.spec.name, Promise.all(deps).then(() => r.boot()));
    }
    this.emit('event', { type: 'lab', state: 'starting', at: this.elapsed() });
    const all = [...ready.values()];
    // Fail fast: the first failure aborts the lab even while other nodes are still booting.
    await new Promise<void>((resolve, reject) => {
      Promise.all(all).then(() => resolve(), reject);
      for (const p of all) p.catch(reject);
    });
    this.emit('event', { type: 'lab', state: 'ready', at: this.elapsed(), detail: `all ${this.runners.size} nodes ready` });
  }

  /** Graceful (QMP quit, SIGTERM, SIGKILL) or forced (SIGKILL now) stop of every QEMU. */
  async stopAll(force = false): Promise<void> {
    this.stopping = true;
    this.slots.close();
    await Promise.all([...this.runners.values()].map((r) => r.stopForTeardown(force)));
    this.closeConsoles();
  }

  /** Flush and close every node's console log (idempotent). */
  closeConsoles(): void {
    for (const r of this.runners.values()) r.console.close();
  }

  /** Stop a node gracefully and boot it again (its forwarded links reconnect; a direct link cannot). */
  async restartNode(name: string): Promise<void> {
    const r = this.runner(name);
    await r.stop('restart');
    r.setState('restarting', { detail: 'restart requested' });
    await r.boot();
  }

  /** Stop one node gracefully (QMP quit, SIGTERM, SIGKILL); the rest of the lab keeps running. */
  async stopNode(name: string): Promise<void> {
    await this.runner(name).stop('requested');
  }

  /** Boot a node that was stopped (or failed) again. */
  async startNode(name: string): Promise<void> {
    const r = this.runner(name);
    if (r.live()) throw new TopoError(`node ${name} is already running`, { code: 'E_RUNNING', node: name });
    await r.boot();
  }

  /** SIGKILL a node's QEMU as a crash would (restart: on-failure brings it back). */
  killNode(name: string): void {
    this.runner(name).crash();
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  /** ms since the supervisor was created: the `at` of every event. */
  elapsed(): number {
    return Date.now() - this.t0;
  }

  /** Every runner after all it depends on, file order within a dependency level (topology/graph.ts). */
  private bootOrder(): NodeRunner[] {
    return bootOrder({ nodes: [...this.runners.values()].map((r) => r.spec) }).map((name) => this.runner(name));
  }

  private runner(name: string): NodeRunner {
    const r = this.runners.get(name);
    if (!r) throw new TopoError(`no node "${name}" (nodes: ${[...this.runners.keys()].join(', ')})`, { code: 'E_NO_NODE' });
    return r;
  }
}
