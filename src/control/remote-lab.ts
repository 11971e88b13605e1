// `connect(lab)`: the lab API of a lab running in another process, over its control socket. The CLI's one client.
import type net from 'node:net';
import { hostPortIn } from '../machine/ports.js';
import type { ExecResult } from '../guest/agent-client.js';
import type { DownOptions, LabHandle, LinkHandle, NodeHandle } from '../api/handles.js';
import { checkChannel, checkNode, linkIndex, statusNames } from '../api/lookup.js';
import { normalizeExecOptions, type ExecOptions } from '../api/exec-options.js';
import { waitForConsoleLine } from '../api/console-wait.js';
import { runBase } from '../runtime/rundir.js';
import type { ImpairmentStatus } from '../api/dataplane.js';
import type { LabStatus, LinkStatus, NodeStatus } from '../api/status.js';
import { ControlConnection, type Dialer, type TcpTarget } from './client.js';
import { lazyDuplex } from './lazy-duplex.js';
import type { Request } from './protocol.js';
import { pickLab, socketOf, type LabEntry } from './labs.js';

export interface ConnectOptions {
  /** Parent of run directories, as given to `up` (default: TOPO_RUN_DIR, XDG_RUNTIME_DIR/topo, /tmp/topo-UID). */
  runDirBase?: string;
}

/** The requests that turn a connection into a raw byte stream. */
export type StreamRequest = Extract<Request, { op: 'console' | 'logs' | 'channel' | 'capture' }>;

/**
 * What the CLI, the web view and attached scenarios use of a lab: the LabHandle plus raw streams, carrier and
 * impairment by endpoint, and the end of the connection. RemoteLab (one lab's socket) and SpreadLab (a lab spread
 * over runners, src/control/spread-lab.ts) both are one.
 */
export interface LabClient extends LabHandle {
  open(req: StreamRequest): Promise<net.Socket>;
  setLink(endpoint: string, state: 'up' | 'down'): Promise<LinkStatus>;
  impair(endpoint: string, change: Omit<Extract<Request, { op: 'impair' }>, 'op' | 'endpoint'>): Promise<ImpairmentStatus[]>;
  onDisconnect(fn: () => void): void;
}

/** Attach to a running lab (by name; the only running one when omitted). */
export async function connect(lab?: string, opts: ConnectOptions = {}): Promise<RemoteLab> {
  return openLab(await pickLab(lab, runBase(opts.runDirBase)));
}

/** Attach to a lab found by listLabs/pickLab (its status, when the probe got one, saves a round trip). */
export function openLab(entry: LabEntry): Promise<RemoteLab> {
  return attach(socketOf(entry), entry.lab, entry.status);
}

export type { TcpTarget };

/** Attach to the lab serving `sockPath` (the socket is checked to be ours first). */
export function attach(sockPath: string, lab: string, status?: LabStatus): Promise<RemoteLab> {
  return attachWith(lab, () => ControlConnection.open(sockPath, lab), status);
}

/** Attach to one runner of a lab over TCP (`topo node --control-port`): both sides prove the lab secret first. */
export function attachTcp(target: TcpTarget): Promise<RemoteLab> {
  return attachWith(target.lab, () => ControlConnection.openTcp(target));
}

async function attachWith(lab: string, dial: Dialer, status?: LabStatus): Promise<RemoteLab> {
  const conn = await dial();
  try {
    return new RemoteLab(lab, dial, conn, status ?? (await conn.request<LabStatus>({ op: 'status' })));
  } catch (err) {
    conn.close();
    throw err;
  }
}

export class RemoteLab implements LabClient {
  constructor(
    readonly name: string,
    /** Another connection to the same lab (Unix socket or authenticated TCP). */
    private readonly dial: Dialer,
    private readonly conn: ControlConnection,
    /** The status when connected: node and link names for local checks. */
    readonly initial: LabStatus,
  ) {}

  status(): Promise<LabStatus> {
    return this.conn.request<LabStatus>({ op: 'status' });
  }

  /** A new connection to the lab turned into a raw byte stream once the lab said ok (its error otherwise). */
  open(req: StreamRequest): Promise<net.Socket> {
    return ControlConnection.stream(this.dial, this.name, req);
  }

  node(name: string): NodeHandle {
    checkNode(statusNames(this.initial), name);
    return {
      name,
      exec: (cmd, opts) => this.exec(name, cmd, opts),
      console: () => lazyDuplex(this.open({ op: 'console', node: name })),
      // The logs stream, not the console: it is not journaled as a console session, and nothing can be typed into it.
      waitForConsole: (re, opts) => waitForConsoleLine(lazyDuplex(this.open({ op: 'logs', node: name, follow: true, tail: 0 })), re, name, { timeoutMs: opts?.timeout ?? 60_000 }),
      channel: (channel) => {
        // Refused at once, as the Lab of up() does, rather than as an error event on a stream nobody listens to yet.
        checkChannel(name, this.initial.nodes.find((n) => n.name === name)!.channels, channel);
        return lazyDuplex(this.open({ op: 'channel', node: name, name: channel }));
      },
      restart: () => this.conn.request<void>({ op: 'node', node: name, action: 'restart' }),
      kill: () => this.conn.request<void>({ op: 'node', node: name, action: 'kill' }),
      stop: () => this.conn.request<void>({ op: 'node', node: name, action: 'stop' }),
      start: () => this.conn.request<void>({ op: 'node', node: name, action: 'start' }),
    };
  }

  link(endpoint: string): LinkHandle {
    const { id } = this.initial.links[linkIndex(statusNames(this.initial), endpoint)]!;
    return {
      id,
      down: async () => void (await this.setLink(endpoint, 'down')),
      up: async () => void (await this.setLink(endpoint, 'up')),
      impair: (spec, opts) => this.impair(endpoint, { spec, direction: opts?.direction }),
      clear: (opts) => this.impair(endpoint, { clear: true, direction: opts?.direction }),
      capture: (opts) => lazyDuplex(this.open({ op: 'capture', endpoint, format: opts?.format })),
    };
  }

  /** Carrier of the link `endpoint` names off or on (the lab checks the name); resolves with the link's status after. */
  setLink(endpoint: string, state: 'up' | 'down'): Promise<LinkStatus> {
    return this.conn.request<LinkStatus>({ op: 'link', endpoint, state });
  }

  /** Change (or clear) the impairment of the link `endpoint` names (`topo impair`); the lab checks the name. */
  impair(endpoint: string, change: Omit<Extract<Request, { op: 'impair' }>, 'op' | 'endpoint'>): Promise<ImpairmentStatus[]> {
    return this.conn.request<ImpairmentStatus[]>({ op: 'impair', endpoint, ...change });
  }

  async ports(node: string): Promise<NodeStatus['ports']> {
    checkNode(statusNames(this.initial), node);
    return (await this.status()).nodes.find((n) => n.name === node)!.ports;
  }

  /** The host port forwarded to a node's guest port (chosen at `up`, so the status seen at connect holds it). */
  async hostPort(node: string, guestPort: number, protocol: 'tcp' | 'udp' = 'tcp'): Promise<number> {
    checkNode(statusNames(this.initial), node);
    return hostPortIn(node, this.initial.nodes.find((n) => n.name === node)!.ports, guestPort, protocol);
  }

  impairments(): Promise<ImpairmentStatus[]> {
    return this.conn.request<ImpairmentStatus[]>({ op: 'impair' });
  }

  async exec(node: string, cmd: string | readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    // Refused here, before megabytes travel to a lab that would refuse them too.
    const o = normalizeExecOptions(opts, node);
    // Abortable: a connection of its own, since dropping it is what kills the command (the lab's other requests go on).
    const conn = o.signal ? await this.dial() : this.conn;
    const req = conn.request<{ exitCode: number; timedOut: boolean; stdout: string; stderr: string }>({
      op: 'exec',
      node,
      cmd: typeof cmd === 'string' ? cmd : [...cmd],
      timeoutMs: o.asked,
      stdin: o.stdin?.toString('base64'),
      maxOutput: o.maxOutput,
    });
    // Dropping the connection kills the command in the guest (the server aborts it).
    const onAbort = () => conn.close();
    if (o.signal?.aborted) onAbort();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const r = await req;
      return { exitCode: r.exitCode, timedOut: r.timedOut, stdout: Buffer.from(r.stdout, 'base64'), stderr: Buffer.from(r.stderr, 'base64') };
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
      if (conn !== this.conn) conn.close();
    }
  }

  /** Stop the lab (same guarantees as Ctrl-C on a foreground `up`), then disconnect. The server names the stop `topo down`. */
  async down(_opts?: DownOptions): Promise<void> {
    try {
      await this.conn.request({ op: 'down' });
    } finally {
      this.conn.close();
    }
  }

  /** Disconnect; the lab keeps running (down() stops it). */
  async close(): Promise<void> {
    this.conn.close();
  }

  /** Leaving the scope disconnects, as close(). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Calls `fn` once the control connection is gone (closed by us, or the lab went away). */
  onDisconnect(fn: () => void): void {
    if (this.conn.sock.destroyed) return void queueMicrotask(fn);
    this.conn.sock.once('close', fn);
  }
}
