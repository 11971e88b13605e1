// One end of a link between runners over TCP: relays frames between a local stream (a QEMU socket, or a
// forwarded link's endpoint fd, so its switch, impairments, capture and counters apply unchanged) and a peer.

import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { TopoError } from '../errors.js';
import { MAX_FRAME_LEN } from './framing.js';
import { addCounters, FramePort, zeroCounters, type PortCounters } from './port.js';
import { handshake, HelloRefused, type HelloAuth, type RefusalReason, type TcpRole } from './tcp-hello.js';

export interface TcpLinkEndOptions {
  /** The local side: a raw fd (this end owns it) or a connected stream, carrying QEMU stream framing. */
  local: number | Duplex;
  role: TcpRole;
  /** dial: the peer's address; listen: the address to bind (port 0 picks one, see address()). */
  host: string;
  port: number;
  /** null: hello-less, so a plain QEMU `-netdev stream` can be the other end (anyone who connects is the peer). */
  auth: HelloAuth | null;
  /** First reconnect delay, doubled after each failure up to maxBackoffMs (1 s and 30 s by default). */
  backoffMs?: number;
  maxBackoffMs?: number;
  helloTimeoutMs?: number;
  /** Per-direction userland queue bound. Past the socket's high-water mark the end stops reading the other side
   *  (a cable pushes back, as the forwarder's wire mode does); frames beyond this bound are dropped and counted. */
  maxQueueBytes?: number;
  maxFrameLen?: number;
  /** A name for errors, e.g. the link id. */
  name?: string;
}

export interface TcpLinkStats {
  up: boolean;
  connects: number;
  disconnects: number;
  refused: Record<RefusalReason, number>;
  /** Frames from the local side while no peer was connected. */
  disconnectedDrops: number;
  /** The delay before the last redial (dialling ends), 0 before any. */
  lastRetryMs: number;
  /** Bytes this end holds in userland, both directions: bounded by the queue bound plus one read chunk. */
  queuedBytes: number;
  /** The TCP side, summed over every connection. */
  remote: PortCounters;
  local: PortCounters;
}

export interface TcpLinkEndEvents {
  /** A peer connected (and proved the secret): carrier on. */
  up: [];
  /** The peer went away: carrier off until the next 'up'. */
  down: [];
  /** A connection that was not accepted as the peer (wrong secret, replayed hello, wrong link, bad framing). */
  refused: [reason: RefusalReason, detail: string];
}

const MAX_PENDING = 16;

const noRefusals = (): Record<RefusalReason, number> => ({ malformed: 0, identity: 0, proof: 0, timeout: 0, closed: 0 });

export class TcpLinkEnd extends EventEmitter<TcpLinkEndEvents> {
  private readonly local: FramePort;
  private remote: FramePort | null = null;
  private server: net.Server | null = null;
  private readonly pending = new Set<net.Socket>();
  private retired = zeroCounters();
  private readonly refusals = noRefusals();
  private connects = 0;
  private disconnects = 0;
  private disconnectedDrops = 0;
  private backoff: number;
  private retryTimer: NodeJS.Timeout | null = null;
  private lastRetryMs = 0;
  private closed = false;

  constructor(private readonly opts: TcpLinkEndOptions) {
    super();
    const stream = typeof opts.local === 'number'
      ? new net.Socket({ fd: opts.local, readable: true, writable: true })
      : opts.local;
    this.backoff = opts.backoffMs ?? 1000;
    this.local = new FramePort(stream, this.portOptions());
    this.local.on('frame', (f) => {
      const remote = this.remote;
      if (remote === null) return void this.disconnectedDrops++;
      remote.send(f);
      // Like a cable (the forwarder's wire mode): push back on the sender instead of dropping a burst.
      if (remote.congested) this.local.pause();
    });
    this.local.on('drain', () => this.remote?.resume());
    // The local side went away (its QEMU exited, its link closed): nothing left to carry, so the peer sees down.
    this.local.on('close', () => void this.close());
  }

  get up(): boolean {
    return this.remote !== null;
  }

  /** listen: resolves once bound; dial: starts dialling (the first 'up' comes later). */
  async start(): Promise<void> {
    if (this.opts.role === 'dial') return this.dial();
    const server = (this.server = net.createServer((sock) => this.accepted(sock)));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new TopoError(
        `link ${this.opts.name ?? ''}: cannot listen on ${this.opts.host}:${this.opts.port}: ${err.message}`,
        { code: 'NET_TCP_LISTEN', link: this.opts.name, cause: err },
      )));
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
  }

  /** The bound address of a listening end. */
  address(): net.AddressInfo {
    const a = this.server?.address();
    if (a == null || typeof a === 'string') throw new Error('TcpLinkEnd is not listening');
    return a;
  }

  stats(): TcpLinkStats {
    return {
      up: this.up, connects: this.connects, disconnects: this.disconnects, refused: { ...this.refusals },
      disconnectedDrops: this.disconnectedDrops,
      lastRetryMs: this.lastRetryMs,
      queuedBytes: this.local.queuedBytes + (this.remote?.queuedBytes ?? 0),
      remote: this.remote === null ? { ...this.retired } : addCounters(this.retired, this.remote.counters),
      local: { ...this.local.counters },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    for (const s of this.pending) s.destroy();
    const waits: Promise<void>[] = [this.local.closeAndWait()];
    if (this.remote !== null) waits.push(this.remote.closeAndWait());
    if (this.server !== null) {
      const server = this.server;
      waits.push(new Promise((resolve) => server.close(() => resolve())));
    }
    await Promise.all(waits);
  }

  private portOptions() {
    return { maxQueueBytes: this.opts.maxQueueBytes, maxFrameLen: this.opts.maxFrameLen ?? MAX_FRAME_LEN };
  }

  private dial(): void {
    if (this.closed) return;
    const sock = net.connect({ host: this.opts.host, port: this.opts.port, noDelay: true });
    this.pending.add(sock);
    let failed = false;
    const retry = (): void => {
      if (failed) return;
      failed = true;
      this.pending.delete(sock);
      sock.destroy();
      this.scheduleDial();
    };
    sock.once('error', retry);
    sock.once('close', retry);
    sock.once('connect', () => {
      sock.off('error', retry);
      sock.off('close', retry);
      failed = true;
      void this.authenticate(sock).then((ok) => {
        if (!ok || this.remote === null) return this.scheduleDial();
        // Reconnect promptly after a clean session; back off only while dialling keeps failing.
        this.backoff = this.opts.backoffMs ?? 1000;
      });
    });
  }

  private scheduleDial(): void {
    if (this.closed || this.retryTimer !== null) return;
    const delay = (this.lastRetryMs = this.backoff);
    this.backoff = Math.min(this.backoff * 2, this.opts.maxBackoffMs ?? 30_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.dial();
    }, delay);
  }

  private accepted(sock: net.Socket): void {
    if (this.closed) return void sock.destroy();
    sock.setNoDelay(true);
    // Hello-less: the first connection is the peer; others wait their turn by being refused.
    if (this.opts.auth === null && (this.remote !== null || this.pending.size > 0)) {
      this.refuse(sock, new HelloRefused('identity', 'a peer is already connected'));
      return;
    }
    // Unauthenticated connections are bounded, so a flood of idle sockets cannot grow without limit.
    if (this.pending.size >= MAX_PENDING) {
      this.refuse(sock, new HelloRefused('timeout', `more than ${MAX_PENDING} connections in their hello`));
      return;
    }
    this.pending.add(sock);
    void this.authenticate(sock);
  }

  /** Hello (unless hello-less), then the socket becomes the remote port. Resolves false when refused. */
  private async authenticate(sock: net.Socket): Promise<boolean> {
    this.pending.add(sock);
    let rest: Buffer = Buffer.alloc(0);
    if (this.opts.auth !== null) {
      try {
        rest = await handshake(sock, this.opts.auth, this.opts.role, this.opts.helloTimeoutMs ?? 10_000);
      } catch (err) {
        this.pending.delete(sock);
        this.refuse(sock, err instanceof HelloRefused ? err : new HelloRefused('malformed', String(err)));
        return false;
      }
    }
    this.pending.delete(sock);
    if (this.closed) {
      sock.destroy();
      return false;
    }
    // A peer that proved itself replaces a stale session (its runner restarted before we saw the old one die).
    if (this.remote !== null) this.remote.close();
    this.attach(sock, rest);
    return true;
  }

  private attach(sock: net.Socket, rest: Buffer): void {
    sock.pause();
    if (rest.length > 0) sock.unshift(rest);
    const port = new FramePort(sock, this.portOptions());
    this.remote = port;
    port.on('frame', (f) => {
      this.local.send(f);
      if (this.local.congested) port.pause();
    });
    port.on('drain', () => this.local.resume());
    port.on('protocolError', (err) => this.emit('refused', 'malformed', err.message));
    port.on('close', () => {
      this.retired = addCounters(this.retired, port.counters);
      if (port.counters.protocolErrors > 0) this.refusals.malformed++;
      if (this.remote !== port) return;
      this.remote = null;
      // Nothing to wait for any more: frames from the local side are now counted as disconnected.
      this.local.resume();
      this.disconnects++;
      this.emit('down');
      if (this.opts.role === 'dial') this.scheduleDial();
    });
    sock.resume();
    this.connects++;
    this.emit('up');
  }

  private refuse(sock: net.Socket, err: HelloRefused): void {
    this.refusals[err.reason]++;
    sock.destroy();
    this.emit('refused', err.reason, err.message);
  }
}
