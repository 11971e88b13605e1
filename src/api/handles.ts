// The lab API shared by a lab started in this process (`up()`, src/runtime/running-lab.ts) and one reached over its
// control socket (`connect()`, src/control/remote-lab.ts). Every query is async, whichever side answers it.
import type { Duplex, Readable } from 'node:stream';
import type { ExecResult } from '../guest/agent-client.js';
import type { ImpairSpec } from '../topology/impairment.js';
import type { ImpairmentStatus, ImpairOptions } from './dataplane.js';
import type { ExecOptions } from './exec-options.js';
import type { LabStatus, NodeStatus } from './status.js';

export type { ExecOptions, ExecResult };

export interface NodeHandle {
  readonly name: string;
  /** A string runs through `sh`; an array is quoted word by word. */
  exec(cmd: string | readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** The serial console from now on; what you write is typed into it. */
  console(): Duplex;
  /** The first console line matching `re` from now on (default timeout 60 s: E_TIMEOUT). */
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
  /** Carrier off (on) at every QEMU end of the link (QMP set_link). */
  down(): Promise<void>;
  up(): Promise<void>;
  /** Impair a forwarded link while it runs (same values as `impair:` in a file); queued frames are kept. */
  impair(spec: ImpairSpec, opts?: ImpairOptions): Promise<ImpairmentStatus[]>;
  clear(opts?: ImpairOptions): Promise<ImpairmentStatus[]>;
  /** Live capture from now on: pcap (pcapng for segments) as a byte stream; destroy it to stop. */
  capture(opts?: { format?: 'pcap' | 'pcapng' }): Readable;
}

export interface DownOptions {
  /** Who asked for the stop (the control server says `topo down`): a boot it ends is reported stopped, not failed. */
  by?: string;
}

/**
 * A running lab. `node()` and `link()` only name things (they throw E_NO_NODE / E_NO_LINK at once); everything that
 * asks the lab returns a Promise.
 *
 * Ending: `down()` stops the lab in both implementations (a remote one asks its supervisor, as `topo down` does).
 * `close()` lets go of this handle: for the lab `up()` started in this process, the handle owns the lab, so close()
 * is down(); for a `connect()`ed lab it only disconnects and the lab keeps running. `await using` calls close().
 */
export interface LabHandle {
  readonly name: string;
  status(): Promise<LabStatus>;
  node(name: string): NodeHandle;
  link(endpoint: string): LinkHandle;
  /** `lab.node(node).exec(cmd, opts)`. */
  exec(node: string, cmd: string | readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  ports(node: string): Promise<NodeStatus['ports']>;
  /** The host port forwarded to `guestPort` of `node` (tcp by default); E_NO_PORT when it is not forwarded. */
  hostPort(node: string, guestPort: number, protocol?: 'tcp' | 'udp'): Promise<number>;
  /** Every forwarded link's impairment, per receiving endpoint (`topo impair --show`). */
  impairments(): Promise<ImpairmentStatus[]>;
  /** Stop the lab and wait until it is down. */
  down(opts?: DownOptions): Promise<void>;
  /** Let go of this handle: tears the lab down for `up()`, disconnects for `connect()`. */
  close(): Promise<void>;
  /** close(). */
  [Symbol.asyncDispose](): Promise<void>;
}
