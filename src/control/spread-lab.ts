// A lab spread over several runners (`topo node ... --control-port`, one per node), reached through its lab file:
// one LabHandle over a TCP RemoteLab per runner. Node operations go to the node's runner, link operations to the
// runners of the link's nodes (each applies what it owns, src/control/spread-rules.ts), status is merged.
import type net from 'node:net';
import type { DownOptions, ExecOptions, ExecResult, LinkHandle, NodeHandle } from '../api/handles.js';
import type { ImpairmentStatus } from '../api/dataplane.js';
import { checkNode, linkIndex, type LabNames } from '../api/lookup.js';
import type { LabStatus, LinkStatus, NodeStatus } from '../api/status.js';
import { TopoError } from '../errors.js';
import { lazyDuplex } from './lazy-duplex.js';
import type { LabFile, Runner } from './lab-file.js';
import type { Request } from './protocol.js';
import { attachTcp, type LabClient, type RemoteLab, type StreamRequest } from './remote-lab.js';
import { directionOwner, linkHost, linkNodes, mergeImpairments, mergeLink, mergeStatus, unionInOrder, type RunnerReport } from './spread-rules.js';

/** The nodes whose runners apply some direction of these links. */
const owners = (links: readonly LinkStatus[]): Set<string> => new Set(links.flatMap((l) => l.endpoints.map((ep) => directionOwner(l, ep))));

interface Conn {
  runner: Runner;
  remote?: RemoteLab;
  error?: TopoError;
}

/** Connect to every runner of the lab file at once; a runner that does not answer is kept as such (its node unreachable). */
export async function openSpreadLab(file: LabFile, opts: { timeoutMs?: number } = {}): Promise<SpreadLab> {
  const conns = await Promise.all(file.runners.map(async (runner): Promise<Conn> => {
    try {
      const remote = await attachTcp({ lab: file.lab, host: runner.host, port: runner.port, secret: file.secret, timeoutMs: opts.timeoutMs });
      if (!remote.initial.nodes.some((n) => n.name === runner.node)) {
        await remote.close();
        return { runner, error: new TopoError(`the runner at ${runner.address} does not run node ${runner.node} (it runs ${remote.initial.nodes.map((n) => n.name).join(', ') || 'none'})`, { code: 'E_LAB_FILE', file: file.file }) };
      }
      return { runner, remote };
    } catch (err) {
      if (!(err instanceof TopoError)) throw err;
      return { runner, error: err };
    }
  }));
  // Nothing answered: that one line (a wrong secret, a wrong address) is the answer, not a table of unreachable nodes.
  if (conns.every((c) => c.error)) throw conns[0]!.error!;
  return new SpreadLab(file, conns);
}

export class SpreadLab implements LabClient {
  readonly name: string;
  private readonly byNode: Map<string, Conn>;
  /** Node names from the lab file, links from every runner that answered. */
  private readonly names: LabNames;
  private readonly links: LinkStatus[];

  constructor(
    readonly file: LabFile,
    private readonly conns: readonly Conn[],
  ) {
    this.name = file.lab;
    this.byNode = new Map(conns.map((c) => [c.runner.node, c]));
    const links = new Map<string, LinkStatus>();
    // A segment member other than its host sees only its end and the host's: keep the view with every member.
    for (const c of conns) for (const l of c.remote?.initial.links ?? []) if ((links.get(l.id)?.endpoints.length ?? 0) < l.endpoints.length) links.set(l.id, l);
    this.links = unionInOrder(conns.map((c) => (c.remote?.initial.links ?? []).map((l) => l.id))).map((id) => links.get(id)!);
    this.names = { name: file.lab, nodes: conns.map((c) => c.runner.node), links: this.links };
  }

  /** The runner of `node` (E_NO_NODE for a node the lab has not; its connect error, named, for one that did not answer). */
  private runner(node: string): RemoteLab {
    checkNode(this.names, node);
    const c = this.byNode.get(node)!;
    if (c.remote) return c.remote;
    throw new TopoError(c.error!.message, { code: c.error!.code, node, hint: c.error!.hint });
  }

  private link0(endpoint: string): LinkStatus {
    return this.links[linkIndex(this.names, endpoint)]!;
  }

  /** Every runner holding the link, all reachable (else the first that is not, as an error, before anything is asked). */
  private holders(l: LinkStatus): { node: string; remote: RemoteLab }[] {
    return linkNodes(l).filter((n) => this.byNode.has(n)).map((node) => ({ node, remote: this.runner(node) }));
  }

  /** The reachable runners among `nodes`; an error (before anything is asked) if one of `needed` is not. */
  private reachable(nodes: readonly string[], needed: ReadonlySet<string>): { node: string; remote: RemoteLab }[] {
    for (const n of needed) if (this.byNode.has(n)) this.runner(n);
    return nodes.flatMap((node) => (this.byNode.get(node)?.remote ? [{ node, remote: this.byNode.get(node)!.remote! }] : []));
  }

  async status(): Promise<LabStatus> {
    const reports = await Promise.all(this.conns.map(async (c): Promise<RunnerReport<LabStatus>> => {
      if (!c.remote) return { node: c.runner.node, error: c.error!.message };
      // A runner that answered at connect but not now is unreachable too, not the end of `ps`.
      try {
        return { node: c.runner.node, value: await c.remote.status() };
      } catch (err) {
        return { node: c.runner.node, error: (err as Error).message };
      }
    }));
    return mergeStatus(this.name, this.file.file, reports);
  }

  node(name: string): NodeHandle {
    return this.runner(name).node(name);
  }

  exec(node: string, cmd: string | readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    return this.node(node).exec(cmd, opts);
  }

  ports(node: string): Promise<NodeStatus['ports']> {
    return this.runner(node).ports(node);
  }

  hostPort(node: string, guestPort: number, protocol?: 'tcp' | 'udp'): Promise<number> {
    return this.runner(node).hostPort(node, guestPort, protocol);
  }

  /** Streams: a node's at its runner, a capture at the link's host runner (the only one that sees every frame). */
  open(req: StreamRequest): Promise<net.Socket> {
    try {
      return this.runner(req.op === 'capture' ? linkHost(this.link0(req.endpoint)) : req.node).open(req);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  link(endpoint: string): LinkHandle {
    const l = this.link0(endpoint);
    return {
      id: l.id,
      down: async () => void (await this.setLink(endpoint, 'down')),
      up: async () => void (await this.setLink(endpoint, 'up')),
      impair: (spec, opts) => this.impair(endpoint, { spec, direction: opts?.direction }),
      clear: (opts) => this.impair(endpoint, { clear: true, direction: opts?.direction }),
      capture: (opts) => lazyDuplex(this.open({ op: 'capture', endpoint, format: opts?.format })),
    };
  }

  /** Carrier at every runner of the link (each sets its own node's NICs). */
  async setLink(endpoint: string, state: 'up' | 'down'): Promise<LinkStatus> {
    const l = this.link0(endpoint);
    const views = await Promise.all(this.holders(l).map(async (h) => ({ node: h.node, value: await h.remote.setLink(this.nameAt(h.remote, l, endpoint), state) })));
    return mergeLink(views);
  }

  /** `endpoint` as a runner knows it: a segment member's view has only its end and the host's, but every view has the link id. */
  private nameAt(remote: RemoteLab, l: LinkStatus, endpoint: string): string {
    const view = remote.initial.links.find((x) => x.id === l.id);
    return view?.endpoints.includes(endpoint) || endpoint === l.id ? endpoint : l.id;
  }

  /** Every runner of the link applies the directions it owns; each direction is reported by its owner. */
  async impair(endpoint: string, change: Omit<Extract<Request, { op: 'impair' }>, 'op' | 'endpoint'>): Promise<ImpairmentStatus[]> {
    const l = this.link0(endpoint);
    // Only the runners owning a direction (a segment: its host alone, the one view with every member's end).
    const own = owners([l]);
    const runners = this.reachable(linkNodes(l).filter((n) => own.has(n)), own);
    const reports = await Promise.all(runners.map(async (h) => ({ node: h.node, value: await h.remote.impair(endpoint, change) })));
    return mergeImpairments([l], reports);
  }

  /** The union of what each runner owns; every owner must answer (a missing one's directions would be silently unknown). */
  async impairments(): Promise<ImpairmentStatus[]> {
    const runners = this.reachable(this.conns.map((c) => c.runner.node), owners(this.links));
    const reports = await Promise.all(runners.map(async (h) => ({ node: h.node, value: await h.remote.impairments() })));
    return mergeImpairments(this.links, reports);
  }

  /** Every runner stops its node, all at once; a runner that could not be reached is named after the others stopped. */
  async down(opts?: DownOptions): Promise<void> {
    const results = await Promise.allSettled(this.conns.map((c) => (c.remote ? c.remote.down(opts) : Promise.reject(this.unreachable(c)))));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${this.conns[i]!.runner.node}: ${(r.reason as Error).message}`] : []));
    if (failed.length) {
      throw new TopoError(`lab ${this.name}: ${failed.length} of ${this.conns.length} nodes were not stopped (${failed.join('; ')})`, {
        code: 'E_NOT_RUNNING', hint: 'stop those runners where they run (e.g. kubectl delete -f the manifests)',
      });
    }
  }

  private unreachable(c: Conn): TopoError {
    return new TopoError(`its runner (${c.runner.address}) is unreachable: ${c.error!.message}`, { code: c.error!.code });
  }

  async close(): Promise<void> {
    await Promise.all(this.conns.map((c) => c.remote?.close()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Once the first runner connection goes (a runner gone means the lab is not whole any more). */
  onDisconnect(fn: () => void): void {
    let called = false;
    const once = () => {
      if (!called) (called = true), fn();
    };
    for (const c of this.conns) c.remote?.onDisconnect(once);
  }
}
