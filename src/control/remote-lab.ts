// `connect(lab)`: the lab API of a lab running in another process, over its control socket.
import { Duplex } from 'node:stream';
import { hostPortIn } from '../machine/ports.js';
import { TopoError } from '../errors.js';
import { checkExecLimits, type ExecResult } from '../guest/agent-client.js';
import { endpointLink, type ExecOptions, type LabHandle, type LinkHandle, type NodeHandle } from '../api/handles.js';
import { runBase } from '../runtime/rundir.js';
import type { ImpairmentStatus } from '../api/dataplane.js';
import type { LabStatus, NodeStatus } from '../api/status.js';
import { ControlConnection } from './client.js';
import { LineFramer } from '../host/lines.js';
import { pickLab, socketOf } from './labs.js';

export interface ConnectOptions {
  /** Parent of run directories, as given to `up` (default: TOPO_RUN_DIR, XDG_RUNTIME_DIR/topo, /tmp/topo-UID). */
  runDirBase?: string;
}

/** Attach to a running lab (by name; the only running one when omitted). */
export async function connect(lab?: string, opts: ConnectOptions = {}): Promise<RemoteLab> {
  const entry = await pickLab(lab, runBase(opts.runDirBase));
  const sockPath = socketOf(entry);
  const conn = await ControlConnection.open(sockPath, entry.lab);
  const status = await conn.request<LabStatus>({ op: 'status' });
  return new RemoteLab(entry.lab, sockPath, conn, status);
}

export class RemoteLab implements LabHandle {
  constructor(
    readonly name: string,
    private readonly sockPath: string,
    private readonly conn: ControlConnection,
    /** The status when connected: node and link names for local checks. */
    private readonly initial: LabStatus,
  ) {}

  status(): Promise<LabStatus> {
    return this.conn.request<LabStatus>({ op: 'status' });
  }

  node(name: string): NodeHandle {
    if (!this.initial.nodes.some((n) => n.name === name)) {
      throw new TopoError(`no node "${name}" in lab ${this.name} (nodes: ${this.initial.nodes.map((n) => n.name).join(', ')})`, { code: 'E_NO_NODE' });
    }
    const stream = (req: Parameters<typeof ControlConnection.stream>[2]) => ControlConnection.stream(this.sockPath, this.name, req);
    return {
      name,
      exec: (cmd, opts) => this.exec(name, cmd, opts),
      console: () => lazyDuplex(stream({ op: 'console', node: name })),
      waitForConsole: (re, opts) => waitForConsole(stream({ op: 'logs', node: name, follow: true, tail: 0 }), re, opts?.timeout ?? 60_000, name),
      channel: (channel) => {
        // Refused at once, as the Lab of up() does, rather than as an error event on a stream nobody listens to yet.
        const channels = this.initial.nodes.find((n) => n.name === name)!.channels ?? [];
        if (!channels.includes(channel)) {
          throw new TopoError(`node ${name} has no channel "${channel}" (channels: ${channels.join(', ') || 'none'})`, { code: 'E_NO_CHANNEL', node: name });
        }
        return lazyDuplex(stream({ op: 'channel', node: name, name: channel }));
      },
      restart: () => this.conn.request<void>({ op: 'node', node: name, action: 'restart' }),
      kill: () => this.conn.request<void>({ op: 'node', node: name, action: 'kill' }),
      stop: () => this.conn.request<void>({ op: 'node', node: name, action: 'stop' }),
      start: () => this.conn.request<void>({ op: 'node', node: name, action: 'start' }),
    };
  }

  link(endpoint: string): LinkHandle {
    const topo = { name: this.name, links: this.initial.links.map((l) => ({ id: l.id, endpoints: l.endpoints.map((e) => ({ node: e.split(':')[0]!, iface: e.split(':')[1]! })) })) };
    const { id } = endpointLink(topo as never, endpoint);
    return {
      id,
      down: async () => void (await this.conn.request({ op: 'link', endpoint: id, state: 'down' })),
      up: async () => void (await this.conn.request({ op: 'link', endpoint: id, state: 'up' })),
      impair: (spec, opts) => this.conn.request<ImpairmentStatus[]>({ op: 'impair', endpoint, spec, direction: opts?.direction }),
      clear: (opts) => this.conn.request<ImpairmentStatus[]>({ op: 'impair', endpoint, clear: true, direction: opts?.direction }),
      capture: (opts) => lazyDuplex(ControlConnection.stream(this.sockPath, this.name, { op: 'capture', endpoint, format: opts?.format })),
    };
  }

  async ports(node: string): Promise<NodeStatus['ports']> {
    this.node(node);
    return (await this.status()).nodes.find((n) => n.name === node)!.ports;
  }

  /** The host port forwarded to a node's guest port (chosen at `up`, so the status seen at connect holds it). */
  hostPort(node: string, guestPort: number, protocol: 'tcp' | 'udp' = 'tcp'): number {
    this.node(node);
    return hostPortIn(node, this.initial.nodes.find((n) => n.name === node)!.ports, guestPort, protocol);
  }

  async exec(node: string, cmd: string | readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const stdin = typeof opts.stdin === 'string' ? Buffer.from(opts.stdin) : opts.stdin;
    // Refused here, before megabytes travel to a lab that would refuse them too.
    checkExecLimits(opts.timeout ?? opts.timeoutMs, { stdin }, node);
    // Abortable: a connection of its own, since dropping it is what kills the command (the lab's other requests go on).
    const conn = opts.signal ? await ControlConnection.open(this.sockPath, this.name) : this.conn;
    const req = conn.request<{ exitCode: number; timedOut: boolean; stdout: string; stderr: string }>({
      op: 'exec',
      node,
      cmd: typeof cmd === 'string' ? cmd : [...cmd],
      timeoutMs: opts.timeout ?? opts.timeoutMs,
      stdin: stdin?.toString('base64'),
      maxOutput: opts.maxOutput,
    });
    // Dropping the connection kills the command in the guest (the server aborts it).
    const onAbort = () => conn.close();
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const r = await req;
      return { exitCode: r.exitCode, timedOut: r.timedOut, stdout: Buffer.from(r.stdout, 'base64'), stderr: Buffer.from(r.stderr, 'base64') };
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      if (conn !== this.conn) conn.close();
    }
  }

  /** Stop the lab (same guarantees as Ctrl-C on a foreground `up`). */
  async down(): Promise<void> {
    await this.conn.request({ op: 'down' });
    this.conn.close();
  }

  /** Leaving the scope disconnects; the lab keeps running (use down() to stop it). */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  close(): void {
    this.conn.close();
  }
}

/** A Duplex usable at once, bridged to a socket that is still connecting; destroy() just closes it. */
function lazyDuplex(pending: Promise<Duplex>): Duplex {
  let sock: Duplex | undefined;
  const queued: (() => void)[] = [];
  const whenOpen = (fn: () => void) => (sock ? fn() : queued.push(fn));
  const d = new Duplex({
    read() {
      sock?.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      whenOpen(() => sock!.write(chunk, cb));
    },
    final(cb) {
      whenOpen(() => sock!.end(cb));
    },
    destroy(err, cb) {
      sock?.destroy();
      cb(err);
    },
  });
  pending.then(
    (s) => {
      sock = s;
      s.on('data', (b: Buffer) => {
        if (!d.push(b)) s.pause();
      });
      s.on('end', () => d.push(null));
      s.on('close', () => d.destroy());
      s.on('error', () => undefined);
      s.resume();
      for (const fn of queued.splice(0)) fn();
    },
    (err: Error) => d.destroy(err),
  );
  return d;
}

async function waitForConsole(pending: Promise<Duplex>, re: RegExp, timeoutMs: number, node: string): Promise<string> {
  const sock = await pending;
  return new Promise((resolve, reject) => {
    const done = (err?: Error, line?: string) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(line!);
    };
    const timer = setTimeout(() => done(new TopoError(`no console line matching ${re} within ${timeoutMs} ms`, { code: 'E_TIMEOUT', node })), timeoutMs);
    // Bounded: a guest printing without newlines can't grow this without limit (longer lines are skipped).
    const lines = new LineFramer({
      max: 8192,
      onLine: (b) => {
        const l = b.toString('utf8').replace(/\r$/, '');
        if (re.test(l)) done(undefined, l);
      },
    });
    sock.on('data', (b: Buffer) => lines.push(b));
    sock.on('close', () => done(new TopoError('the lab closed the console stream', { code: 'E_NOT_RUNNING', node })));
    sock.resume();
  });
}
