// The lab API shared by a lab started in this process (`up()`) and one reached over its control socket (`connect()`).
import type { Duplex, Readable } from 'node:stream';
import { TopoError } from '../errors.js';
import type { ExecResult } from '../guest/agent-client.js';
import type { ResolvedLink, ResolvedTopology } from '../topology/model.js';
import type { ImpairSpec } from '../topology/impairment.js';
import type { ImpairmentStatus, ImpairOptions } from './dataplane.js';
import type { LabStatus, NodeStatus } from './status.js';

export interface ExecOptions {
  /** Guest-side limit in ms (0: none); the command's whole process group is killed then. Default 300 s. */
  timeout?: number;
  /** @deprecated use `timeout` */
  timeoutMs?: number;
  stdin?: Buffer | string;
  /** Aborting kills the command in the guest. */
  signal?: AbortSignal;
  /** Bytes of stdout and stderr together, 64 MiB at most (the default); more fails with E_OUTPUT_LIMIT. */
  maxOutput?: number;
}

export interface NodeHandle {
  readonly name: string;
  /** A string runs through `sh`; an array is quoted word by word. */
  exec(cmd: string | readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** The serial console from now on; what you write is typed into it. */
  console(): Duplex;
  waitForConsole(re: RegExp, opts?: { timeout?: number }): Promise<string>;
  /** An extra virtio-serial channel (`channels:` in the file), binary safe. */
  channel(name: string): Duplex;
  restart(): Promise<void>;
  /** Graceful stop of this node alone; `start()` boots it again (forwarded links reconnect, direct ones cannot). */
  stop(): Promise<void>;
  start(): Promise<void>;
  kill(): Promise<void>;
}

export interface LinkHandle {
  readonly id: string;
  down(): Promise<void>;
  up(): Promise<void>;
  /** Impair a forwarded link while it runs (same values as `impair:` in a file); queued frames are kept. */
  impair(spec: ImpairSpec, opts?: ImpairOptions): Promise<ImpairmentStatus[]>;
  clear(opts?: ImpairOptions): Promise<ImpairmentStatus[]>;
  /** Live capture from now on: pcap (pcapng for segments) as a byte stream; destroy it to stop. */
  capture(opts?: { format?: 'pcap' | 'pcapng' }): Readable;
}

export interface LabHandle {
  readonly name: string;
  status(): LabStatus | Promise<LabStatus>;
  node(name: string): NodeHandle;
  link(endpoint: string): LinkHandle;
  ports(node: string): NodeStatus['ports'] | Promise<NodeStatus['ports']>;
  /** The host port forwarded to `guestPort` of `node` (tcp by default); E_NO_PORT when it is not forwarded. */
  hostPort(node: string, guestPort: number, protocol?: 'tcp' | 'udp'): number;
  down(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** `r1:eth1` (an endpoint) or a link id (`l1`, as `ps` shows) names a link. */
export function endpointLink(topology: Pick<ResolvedTopology, 'name' | 'links'>, endpoint: string): ResolvedLink {
  const byId = topology.links.find((l) => l.id === endpoint);
  if (byId) return byId;
  const [node, iface] = endpoint.split(':');
  const found = topology.links.find((l) => l.endpoints.some((ep) => ep.node === node && (iface === undefined || ep.iface === iface)));
  if (found && iface !== undefined) return found;
  const known = topology.links.flatMap((l) => [l.id, ...l.endpoints.map((ep) => `${ep.node}:${ep.iface}`)]);
  throw new TopoError(`no link "${endpoint}" in lab ${topology.name} (links and endpoints: ${known.join(', ') || 'none'})`, {
    code: 'E_NO_LINK',
    hint: 'name an endpoint as NODE:IFACE, or a link id from `topo ps`',
  });
}
