// A running lab as an object: status, nodes (exec, console, channels, restart), links (up/down), teardown.
import { EventEmitter } from 'node:events';
import { hostPortIn } from '../machine/ports.js';
import { Duplex } from 'node:stream';
import { TopoError } from '../errors.js';
import type { ExecResult } from '../guest/agent-client.js';
import type { Accel, HostForward } from '../qemu/plan.js';
import type { ResolvedTopology } from '../topology/model.js';
import type { SupervisorEvent } from '../api/events.js';
import type { LinkFabric } from '../net/links.js';
import type { RunDir } from './rundir.js';
import type { ResourceStack } from '../host/resource-stack.js';
import type { RemoteEnds } from './remote-ends.js';
import { portsOf, publicState, type LabStatus, type LinkStatus, type NodeStatus } from '../api/status.js';
import type { Supervisor } from './supervisor.js';
import { DataPlane } from '../net/dataplane.js';
import type { ImpairmentStatus } from '../api/dataplane.js';
import type { LabHandle, LinkHandle, NodeHandle } from '../api/handles.js';
import { checkChannel, checkNode, endpointLink, topologyNames, type LabNames } from '../api/lookup.js';
import { commandLine, normalizeExecOptions, type ExecOptions } from '../api/exec-options.js';
import { waitForConsoleLine } from '../api/console-wait.js';

export type { ExecResult };
export { DEFAULT_EXEC_TIMEOUT_MS } from '../api/exec-options.js';

export interface LabParts {
  topology: ResolvedTopology;
  accel: Accel;
  runDir: RunDir;
  forwards: ReadonlyMap<string, readonly HostForward[]>;
  captureDir: string;
  supervisor: Supervisor;
  fabric: LinkFabric;
  keep: boolean;
  seed: number;
  /** Everything the lab holds, its QEMUs on top: down() releases it (startLab does on a failure). */
  resources: ResourceStack;
  /** One node of a spread lab (`topo node`): its links' ends in other runners. */
  remote?: RemoteEnds;
  /** Spread lab: whether this runner applies the impairment towards endpoint `index` of `link`. */
  owns?: (link: string, index: number) => boolean;
}

export class Lab extends EventEmitter<{ event: [SupervisorEvent] }> implements LabHandle {
  readonly topology: ResolvedTopology;
  readonly accel: Accel;
  readonly runDir: RunDir;
  readonly forwards: ReadonlyMap<string, readonly HostForward[]>;
  readonly captureDir: string;
  readonly supervisor: Supervisor;
  readonly startedAt = new Date();
  private readonly linkDown = new Set<string>();
  readonly dataPlane: DataPlane;
  private downing?: Promise<void>;
  private markStopped!: () => void;
  /** Settles once the lab is down, whoever stopped it (Ctrl-C, `topo down`, the library). */
  readonly stopped = new Promise<void>((resolve) => (this.markStopped = resolve));

  constructor(private readonly parts: LabParts) {
    super();
    ({ topology: this.topology, accel: this.accel, runDir: this.runDir, forwards: this.forwards, captureDir: this.captureDir, supervisor: this.supervisor } = parts);
    this.dataPlane = new DataPlane(parts.topology, parts.fabric, parts.owns);
    // A relaunched node starts with carrier up: put back the links the user took down or whose peer is away.
    this.on('event', (e) => {
      if (e.type !== 'node' || e.state !== 'ready') return;
      for (const l of this.topology.links) if (!this.carrier(l.id)) void this.applyLink(l.id, false, e.node).catch(() => undefined);
    });
    parts.remote?.on('change', (id, connected, peer) => {
      this.emit('event', { type: 'notice', message: `link ${id}: peer ${peer} ${connected ? 'connected' : 'went away: carrier off until it is back'}` });
      void this.applyLink(id, this.carrier(id)).catch(() => undefined);
    });
  }

  /** Carrier as the guests should see it: not taken down by the user, and (spread lab) its peers connected. */
  private carrier(id: string): boolean {
    return !this.linkDown.has(id) && (this.parts.remote?.connected(id) ?? true);
  }

  get name(): string {
    return this.topology.name;
  }

  /** Resolves with the first unrecoverable node failure after the lab was ready. */
  get failure(): Promise<TopoError> {
    return this.supervisor.failure;
  }

  /** The lab's names, for the not-found errors (src/api/lookup.ts). */
  private get names(): LabNames {
    return topologyNames(this.topology);
  }

  async status(): Promise<LabStatus> {
    return this.snapshot();
  }

  /** status(), at once (this process owns the lab). */
  snapshot(): LabStatus {
    const sup = this.supervisor;
    const forwarded = new Set(this.parts.fabric.forwarded().map((f) => f.link.id));
    const nodes = new Map(sup.nodes().map((n) => [n.name, n]));
    return {
      lab: this.topology.name,
      file: this.topology.file,
      accel: this.accel,
      seed: this.parts.seed,
      pid: process.pid,
      startedAt: this.startedAt.toISOString(),
      uptimeMs: Date.now() - this.startedAt.getTime(),
      state: this.downing ? 'stopping' : [...nodes.values()].every((n) => n.state === 'ready') ? 'ready' : 'starting',
      runDir: this.runDir.path,
      captureDir: this.captureDir,
      nodes: this.topology.nodes.map((n) => ({
        name: n.name,
        state: publicState(nodes.get(n.name)?.state ?? 'waiting'),
        pid: nodes.get(n.name)?.pid,
        restarts: nodes.get(n.name)?.restarts ?? 0,
        readyMs: nodes.get(n.name)?.readyMs,
        ports: portsOf(this.forwards.get(n.name)),
        channels: n.channels ?? [],
      })),
      links: this.topology.links.map(
        (l): LinkStatus => ({
          id: l.id,
          endpoints: l.endpoints.map((ep) => `${ep.node}:${ep.iface}`),
          state: this.linkDown.has(l.id) ? 'down' : 'up',
          kind: forwarded.has(l.id) ? 'forwarded' : 'direct',
          ...(forwarded.has(l.id) ? { counters: this.dataPlane.counters(l.id) } : {}),
          ...(this.parts.remote ? { remote: remoteOf(this.parts.remote, l.id) } : {}),
        }),
      ),
    };
  }

  node(name: string): NodeHandle {
    checkNode(this.names, name);
    const node = this.topology.nodes.find((n) => n.name === name)!;
    const sup = this.supervisor;
    return {
      name,
      exec: (cmd, opts) => this.exec(name, cmd, opts),
      console: () => consoleStream(sup.console(name)),
      waitForConsole: (re, opts) => waitForConsoleLine(consoleStream(sup.console(name)), re, name, { timeoutMs: opts?.timeout ?? 60_000 }),
      channel: (channel) => {
        checkChannel(name, node.channels, channel);
        const sock = sup.process(name)?.channels.get(channel);
        if (!sock || sock.destroyed) throw new TopoError(`node ${name} is not running`, { code: 'E_NOT_RUNNING', node: name });
        return sock;
      },
      restart: () => sup.restartNode(name),
      stop: () => sup.stopNode(name),
      start: () => sup.startNode(name),
      kill: async () => sup.killNode(name),
    };
  }

  link(endpoint: string): LinkHandle {
    const link = endpointLink(this.topology, endpoint);
    return {
      id: link.id,
      down: () => this.setLink(link.id, false),
      up: () => this.setLink(link.id, true),
      impair: async (spec, opts) => this.noted(this.dataPlane.impair(endpoint, spec, opts)),
      clear: async (opts) => this.noted(this.dataPlane.impair(endpoint, undefined, opts)),
      capture: (opts) => this.noteCapture(link.id, endpoint, this.dataPlane.capture(endpoint, opts?.format)),
    };
  }

  /** Captures starting and stopping go to the journal too (`topo events`, a bundle's timeline). */
  private noteCapture<S extends import('node:stream').Readable>(id: string, endpoint: string, stream: S): S {
    const what = endpoint === id ? id : `${id} (${endpoint})`;
    this.emit('event', { type: 'notice', message: `capture of ${what} started` });
    stream.once('close', () => this.emit('event', { type: 'notice', message: `capture of ${what} stopped` }));
    return stream;
  }

  async ports(node: string): Promise<NodeStatus['ports']> {
    checkNode(this.names, node);
    return portsOf(this.forwards.get(node));
  }

  /** The host port forwarded to a node's guest port (tcp by default). */
  async hostPort(node: string, guestPort: number, protocol: 'tcp' | 'udp' = 'tcp'): Promise<number> {
    return hostPortIn(node, await this.ports(node), guestPort, protocol);
  }

  async impairments(): Promise<ImpairmentStatus[]> {
    return this.dataPlane.show();
  }

  /** `lab.node(node).exec(cmd)`. */
  async exec(node: string, cmd: string | readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    checkNode(this.names, node);
    const o = normalizeExecOptions(opts, node);
    const proc = this.supervisor.process(node);
    const agent = proc?.agent;
    if (!agent || !proc.live) {
      throw new TopoError(`node "${node}" has no agent (not running, or not topo's default guest)`, { code: 'E_NO_AGENT', node });
    }
    return agent.exec(commandLine(cmd), { timeoutMs: o.timeoutMs || undefined, stdin: o.stdin, signal: o.signal, maxOutput: o.maxOutput });
  }

  /** Impairment changes go to the journal (a bundle replays what happened when). */
  private noted(result: ImpairmentStatus[]): ImpairmentStatus[] {
    for (const r of result) this.emit('event', { type: 'notice', message: `impair ${r.link} to ${r.to}: ${r.impair ? JSON.stringify(r.impair) : 'none'}` });
    return result;
  }

  private async setLink(id: string, up: boolean): Promise<void> {
    if (up) this.linkDown.delete(id);
    else this.linkDown.add(id);
    await this.applyLink(id, this.carrier(id));
    this.emit('event', { type: 'link', link: id, state: up ? 'up' : 'down', at: this.supervisor.elapsed() });
  }

  /** QMP set_link on every QEMU end of the link (both guests see carrier change), optionally only one node's. */
  private async applyLink(id: string, up: boolean, onlyNode?: string): Promise<void> {
    const link = this.topology.links.find((l) => l.id === id)!;
    await Promise.all(
      link.endpoints
        .filter((ep) => !onlyNode || ep.node === onlyNode)
        .map(async (ep) => {
          // Spread lab: the peer's runner sets its own node's carrier.
          const node = this.topology.nodes.find((n) => n.name === ep.node);
          if (!node) return;
          const iface = node.interfaces.find((i) => i.name === ep.iface)!;
          const qmp = this.supervisor.process(ep.node)?.qmp;
          if (!qmp) return; // applied when it is ready again
          await qmp.execute('set_link', { name: `net${iface.index}`, up });
        }),
    );
  }

  /** Who asked for the stop (`topo down`), once one was asked for: a boot it ends is reported as stopped, not failed. */
  stoppedBy?: string;

  /** Tear down once; calling again (e.g. a second Ctrl-C with force) escalates to SIGKILL. */
  down(opts: { force?: boolean; by?: string } = {}): Promise<void> {
    this.stoppedBy ??= opts.by;
    if (this.downing) {
      if (opts.force) void this.supervisor.stopAll(true);
      return this.downing;
    }
    this.forced = opts.force ?? false;
    this.downing = (async () => {
      this.emit('event', { type: 'lab', state: 'stopping', at: this.supervisor.elapsed() });
      // The one teardown path: the same stack a failed up() releases ('stopped' is announced from it, before the journal closes).
      await this.parts.resources.release();
      this.markStopped();
    })();
    return this.downing;
  }

  private forced?: boolean;

  /** How the QEMUs stop when the stack is released: gracefully on down(), at once when up() failed. */
  get teardownForced(): boolean {
    return this.forced ?? true;
  }

  /** The lab's last event; released from the stack just above the journal, so it is journaled. Only after down(). */
  announceStopped(): void {
    if (!this.downing) return;
    this.emit('event', { type: 'lab', state: 'stopped', at: this.supervisor.elapsed(), detail: this.parts.keep ? `kept ${this.runDir.path}` : undefined });
  }

  /** This handle owns the lab: letting go of it tears the lab down (see LabHandle). */
  async close(): Promise<void> {
    await this.down();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function remoteOf(remote: RemoteEnds, link: string): LinkStatus['remote'] {
  return remote.status().filter((r) => r.link === link).map((r) => ({
    peer: r.peer, role: r.role, address: r.address, connected: r.stats.up, connects: r.stats.connects,
    disconnects: r.stats.disconnects, refused: Object.values(r.stats.refused).reduce((a, b) => a + b, 0),
    disconnectedDrops: r.stats.disconnectedDrops,
  }));
}

function consoleStream(hub: import('../machine/console.js').ConsoleHub): Duplex {
  const onData = (b: Buffer) => stream.push(b);
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      hub.write(chunk);
      cb();
    },
    destroy(err, cb) {
      hub.off('data', onData);
      cb(err);
    },
  });
  hub.on('data', onData);
  return stream;
}
