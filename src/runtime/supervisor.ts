// Boots nodes in dependency order with a bounded number booting at once, then watches them; emits events only.
import { EventEmitter } from 'node:events';
import { TopoError } from '../errors.js';
import type { NodePlan } from '../qemu/plan.js';
import type { ResolvedNode, ResolvedTopology } from '../topology/model.js';
import type { NodeState, SupervisorEvent } from './events.js';
import type { LinkFabric } from './links.js';
import { exitError, NodeProcess, type ExitInfo } from './node-process.js';
import type { RunDir } from './rundir.js';

const RUN_FAILED = /topo-guest: (run\[\d+\] failed.*)$/;

export interface SupervisorOptions {
  topology: ResolvedTopology;
  plans: ReadonlyMap<string, NodePlan>;
  readyPatterns: ReadonlyMap<string, readonly RegExp[]>;
  readyTimeoutMs: (node: ResolvedNode) => number;
  /** Nodes that count as ready once QMP greets (no console pattern to wait for). */
  readyOnQmp?: (node: ResolvedNode) => boolean;
  /** swtpm state directory for nodes with tpm: true. */
  tpmStateDir?: (node: ResolvedNode) => string | undefined;
  fabric: LinkFabric;
  runDir: RunDir;
  /** Nodes booting (spawned, not yet ready) at once. */
  jobs: number;
  /** Restarts allowed per node for restart: on-failure. */
  maxRestarts?: number;
  env?: Record<string, string>;
}

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
  private slots: number;
  private readonly slotWaiters: (() => void)[] = [];

  constructor(private readonly opts: SupervisorOptions) {
    super();
    this.slots = opts.jobs;
    this.failure = new Promise((resolve) => (this.fatal = resolve));
    for (const node of opts.topology.nodes) this.states.set(node.name, 'waiting');
  }

  /** Resolve when every node is ready; reject with the first failure (the caller tears down). */
  async start(): Promise<void> {
    const ready = new Map<string, Promise<void>>();
    const byName = new Map(this.opts.topology.nodes.map((n) => [n.name, n]));
    const boot = (node: ResolvedNode): Promise<void> => {
      let p = ready.get(node.name);
      if (!p) {
        p = (async () => {
          await Promise.all(node.dependsOn.map((d) => boot(byName.get(d)!)));
          await this.bootWithSlot(node);
        })();
        ready.set(node.name, p);
      }
      return p;
    };
    this.emit('event', { type: 'lab', state: 'starting', at: this.elapsed() });
    const all = this.opts.topology.nodes.map((n) => boot(n));
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
    for (const w of this.slotWaiters.splice(0)) w();
    await Promise.all([...this.procs.values()].map((proc) => this.stopOne(proc, force)));
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
    await this.takeSlot();
    try {
      await this.launch(node);
    } finally {
      this.releaseSlot();
    }
  }

  private async launch(node: ResolvedNode): Promise<void> {
    if (this.stopping) throw new TopoError('lab is stopping', { code: 'E_STOPPING', node: node.name });
    const proc = new NodeProcess({
      plan: this.opts.plans.get(node.name)!,
      consoleLog: this.opts.runDir.file(`${node.name}.log`),
      readyPatterns: this.opts.readyPatterns.get(node.name) ?? [],
      readyTimeoutMs: this.opts.readyTimeoutMs(node),
      readyOnQmp: this.opts.readyOnQmp?.(node),
      tpmStateDir: this.opts.tpmStateDir?.(node),
      onSpawn: (pid) => this.setState(node.name, 'booting', { pid }),
      linkFd: (slot) => this.opts.fabric.fdFor(node.name, slot.iface, slot.link),
      onConsoleLine: (line) => this.onConsoleLine(node.name, line),
      env: this.opts.env,
    });
    this.procs.set(node.name, proc);
    this.setState(node.name, 'starting');
    const started = Date.now();
    try {
      await proc.start();
    } catch (err) {
      proc.kill();
      await proc.exited;
      const error = err instanceof TopoError ? err : new TopoError(String(err), { code: 'E_LAUNCH', node: node.name, cause: err });
      this.setState(node.name, 'failed', { error, detail: error.message });
      throw error;
    }
    const readyMs = Date.now() - started;
    this.readyMs.set(node.name, readyMs);
    this.setState(node.name, 'ready', { readyMs, pid: proc.pid });
    void proc.exited.then((info) => this.onUnexpectedExit(node, proc, info));
  }

  private async onUnexpectedExit(node: ResolvedNode, proc: NodeProcess, info: ExitInfo): Promise<void> {
    if (this.stopping || this.procs.get(node.name) !== proc) return;
    const error = exitError(node.name, info, 'unexpectedly');
    const count = this.restarts.get(node.name) ?? 0;
    const failed = info.signal !== undefined || info.code !== 0;
    if (node.restart === 'on-failure' && failed && count < (this.opts.maxRestarts ?? 5)) {
      this.restarts.set(node.name, count + 1);
      this.setState(node.name, 'restarting', { error, detail: `${error.message}; restart ${count + 1}` });
      try {
        await this.launch(node);
        return;
      } catch (err) {
        if (this.stopping) return;
        this.fatal?.(err instanceof TopoError ? err : error);
        return;
      }
    }
    this.setState(node.name, 'failed', { error, detail: error.message });
    this.fatal?.(error);
  }

  private onConsoleLine(node: string, line: string): void {
    this.emit('event', { type: 'console', node, line });
    // A failed run: command must be visible in every output mode, not only with --follow.
    const failed = RUN_FAILED.exec(line);
    if (failed) this.emit('event', { type: 'notice', message: `${node}: ${failed[1]}` });
  }

  private setState(node: string, state: NodeState, extra: { readyMs?: number; pid?: number; detail?: string; error?: TopoError } = {}): void {
    this.states.set(node, state);
    this.emit('event', { type: 'node', node, state, at: this.elapsed(), ...extra });
  }

  /** ms since the supervisor was created: the `at` of every event. */
  elapsed(): number {
    return Date.now() - this.t0;
  }

  private takeSlot(): Promise<void> {
    if (this.slots > 0) {
      this.slots--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.slotWaiters.push(resolve));
  }

  private releaseSlot(): void {
    const next = this.slotWaiters.shift();
    if (next) next();
    else this.slots++;
  }
}
