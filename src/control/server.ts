// Serves one lab on an owner-only Unix socket in its run directory (directory 0700, socket 0600), or over TCP
// (server-tcp.ts). The server speaks to the lab only through its LabHandle, plus the few run-directory things of
// ServedLab (src/api/served.ts).
import { chmod, unlink } from 'node:fs/promises';
import net from 'node:net';
import { TopoError } from '../errors.js';
import { MAX_DATA_BYTES } from '../guest/agent-client.js';
import type { LabHandle } from '../api/handles.js';
import type { Served, ServedLab } from '../api/served.js';
import { recorded } from './record.js';
import { ByteBudget, LineFramer } from '../host/lines.js';
import { DEFAULT_BUFFER_BUDGET, errorBody, idInHead, MAX_LINE_BYTES, PROTOCOL_VERSION, SOCKET_NAME, STREAMING_OPS, type Hello, type Request, type Response } from './protocol.js';

export interface ControlServer {
  readonly path: string;
  /** Bytes of unfinished request lines held now, all connections together. */
  readonly buffered: number;
  close(): Promise<void>;
}

/** Unix socket paths are limited to 107 bytes on Linux. */
const SUN_PATH_MAX = 107;

export interface ServeOptions {
  /** Bytes of unfinished request lines all connections together may hold (default 256 MiB). */
  bufferBudget?: number;
}

export async function serveLab(lab: LabHandle, host: ServedLab, opts: ServeOptions = {}): Promise<ControlServer> {
  const sockPath = host.file(SOCKET_NAME);
  if (Buffer.byteLength(sockPath) > SUN_PATH_MAX) {
    throw new TopoError(`control socket path ${sockPath} is longer than ${SUN_PATH_MAX} bytes`, { code: 'E_RUNDIR', hint: 'use a shorter --run-dir' });
  }
  const served = controlServer(lab, host, opts, (_sock, serve) => serve(Buffer.alloc(0)));
  await new Promise<void>((resolve, reject) => {
    served.server.once('error', reject);
    served.server.listen(sockPath, () => resolve());
  });
  await chmod(sockPath, 0o600);
  served.server.on('error', () => undefined);
  return {
    path: sockPath,
    get buffered() {
      return served.buffered;
    },
    async close() {
      served.close();
      await unlink(sockPath).catch(() => undefined);
    },
  };
}

/** Lets a new connection in: calls `serve` with the bytes already read past its own greeting, or destroys it. */
export type Gate = (sock: net.Socket, serve: (rest: Buffer) => void) => void;

/** A net.Server speaking the control protocol to every connection `gate` lets in (Unix socket: all; TCP: the authenticated). */
export function controlServer(lab: LabHandle, host: ServedLab, opts: ServeOptions, gate: Gate): { server: net.Server; readonly buffered: number; close(): void } {
  const conns = new Set<net.Socket>();
  const state = { closing: false, budget: new ByteBudget(opts.bufferBudget ?? DEFAULT_BUFFER_BUDGET) };
  const server = net.createServer((sock) => {
    if (state.closing) return void sock.destroy();
    conns.add(sock);
    sock.on('close', () => conns.delete(sock));
    sock.on('error', () => undefined);
    gate(sock, (rest) => {
      if (state.closing || sock.destroyed) return void sock.destroy();
      serveConnection({ lab, host }, sock, state);
      if (rest.length) sock.unshift(rest);
      sock.resume();
    });
  });
  return {
    server,
    get buffered() {
      return state.budget.inUse;
    },
    close() {
      state.closing = true;
      server.close();
      // Idle connections end now; one still waiting for a reply (the `down` that closes us) ends after it.
      for (const c of conns) if (!pendingOf(c)) c.end();
    },
  };
}

const pending = new WeakMap<net.Socket, number>();
const pendingOf = (sock: net.Socket) => pending.get(sock) ?? 0;

const MiB = (n: number) => `${Math.round(n / 1024 / 1024)} MiB`;

function serveConnection(served: Served, sock: net.Socket, state: { closing: boolean; budget: ByteBudget }): void {
  sock.on('error', () => undefined);
  const hello: Hello = { topo: 'control', version: PROTOCOL_VERSION, lab: served.lab.name, pid: process.pid };
  sock.write(`${JSON.stringify(hello)}\n`);
  const abort = new AbortController();
  sock.on('close', () => abort.abort());
  let raw = false;
  const reply = (r: Response) => {
    if (!sock.destroyed) sock.write(`${JSON.stringify(r)}\n`);
  };
  const settle = (r: Response) => {
    pending.set(sock, pendingOf(sock) - 1);
    reply(r);
    if (state.closing && !pendingOf(sock)) sock.end();
  };
  const onLine = (buf: Buffer) => {
    const line = buf.toString('utf8');
    let msg: { v?: unknown; id?: unknown; op?: unknown } & Record<string, unknown>;
    try {
      msg = JSON.parse(line) as typeof msg;
      if (!msg || typeof msg !== 'object') throw new Error('not an object');
    } catch {
      reply({ id: idInHead(buf), ok: false, error: { code: 'E_BAD_REQUEST', message: 'malformed request (one JSON object per line expected)' } });
      return;
    }
    const id = typeof msg.id === 'number' ? msg.id : 0;
    // A version is a number; "1" written as a string still means 1.
    const v = typeof msg.v === 'string' && /^\d+$/.test(msg.v) ? Number(msg.v) : msg.v;
    if (v !== PROTOCOL_VERSION) {
      reply({ id, ok: false, error: { code: 'E_PROTOCOL', message: `control protocol version ${JSON.stringify(msg.v) ?? 'undefined'} is not supported by this lab's topo (it speaks ${PROTOCOL_VERSION})`, hint: 'use the same topo version that started the lab' } });
      return;
    }
    if (typeof msg.op === 'string' && STREAMING_OPS.has(msg.op)) raw = true;
    pending.set(sock, pendingOf(sock) + 1);
    // Every operation goes to the lab's journal with its result (src/control/record.ts): hand work replays from a bundle.
    void recorded(served, msg as unknown as Request, handle(served, msg as unknown as Request, sock, abort.signal)).then(
      (result) => {
        if (result !== STREAMED) settle({ id, ok: true, result });
        else pending.set(sock, pendingOf(sock) - 1);
      },
      (err) => {
        settle({ id, ok: false, error: errorBody(err) });
        if (raw) sock.end();
      },
    );
  };
  const reader = new LineFramer({
    max: MAX_LINE_BYTES,
    onLine,
    // The rest of an overlong line is skipped; its id (first in the line) gets the error, the connection goes on.
    onTooLong: (head) =>
      reply({ id: idInHead(head), ok: false, error: { code: 'E_TOO_LARGE', message: `request too large: exec stdin and copied files are limited to ${MiB(MAX_DATA_BYTES)} (${MAX_DATA_BYTES} bytes)`, hint: 'put larger files in a share' } }),
    budget: state.budget,
    onOverBudget: (head) => {
      reply({ id: idInHead(head), ok: false, error: { code: 'E_BUSY', message: `the lab's control socket already holds ${MiB(state.budget.limit)} of unfinished requests from its clients`, hint: 'retry when the other transfers are done' } });
      sock.end();
    },
  });
  sock.on('close', () => reader.close());
  const onData = (chunk: Buffer) => {
    const rest = reader.push(chunk, () => raw);
    if (raw) {
      sock.off('data', onData);
      if (rest?.length) sock.unshift(rest);
    }
  };
  sock.on('data', onData);
}

const STREAMED = Symbol('streamed');

async function handle({ lab, host }: Served, req: Request, sock: net.Socket, signal: AbortSignal): Promise<unknown> {
  switch (req.op) {
    case 'status':
      return lab.status();
    case 'exec': {
      const r = await lab.exec(req.node, req.cmd, { timeout: req.timeoutMs, stdin: req.stdin ? Buffer.from(req.stdin, 'base64') : undefined, signal, maxOutput: req.maxOutput });
      return { exitCode: r.exitCode, timedOut: r.timedOut, stdout: r.stdout.toString('base64'), stderr: r.stderr.toString('base64') };
    }
    case 'link': {
      if (req.state !== 'up' && req.state !== 'down') throw new TopoError(`link state must be up or down, not ${JSON.stringify(req.state)}`, { code: 'E_BAD_REQUEST' });
      const link = lab.link(req.endpoint);
      await link[req.state]();
      return (await lab.status()).links.find((l) => l.id === link.id);
    }
    case 'impair': {
      if (req.endpoint === undefined) return lab.impairments();
      const link = lab.link(req.endpoint);
      return req.clear ? link.clear({ direction: req.direction }) : link.impair(req.spec ?? {}, { direction: req.direction });
    }
    case 'capture': {
      const stream = lab.link(req.endpoint).capture({ format: req.format });
      sock.write(`${JSON.stringify({ id: 0, ok: true })}\n`);
      // Pipe honours backpressure: a slow reader fills the capture's own bounded buffer, which then drops (counted).
      stream.pipe(sock);
      sock.on('close', () => stream.destroy());
      return STREAMED;
    }
    case 'node': {
      const node = lab.node(req.node);
      const actions = { restart: node.restart, kill: node.kill, stop: node.stop, start: node.start } as const;
      if (!Object.hasOwn(actions, req.action)) throw new TopoError(`unknown node action ${JSON.stringify(req.action)} (restart, kill, stop, start)`, { code: 'E_BAD_REQUEST' });
      await actions[req.action]();
      return undefined;
    }
    case 'down':
      await lab.down({ by: 'topo down' });
      return undefined;
    case 'console': {
      const stream = lab.node(req.node).console();
      startStream(sock, stream);
      return STREAMED;
    }
    case 'channel': {
      const chan = lab.node(req.node).channel(req.name);
      if (chan.listenerCount('data') > 0) throw new TopoError(`channel ${req.name} of ${req.node} is in use by another client`, { code: 'E_CHANNEL_BUSY', node: req.node });
      startStream(sock, chan, false);
      return STREAMED;
    }
    case 'logs': {
      const node = lab.node(req.node);
      // Read and subscribe in one tick: nothing printed in between is lost or doubled.
      let past = host.consoleLog(req.node);
      const follow = req.follow ? node.console() : undefined;
      if (req.tail !== undefined) past = lastLines(past, req.tail);
      sock.write(`${JSON.stringify({ id: 0, ok: true })}\n`);
      sock.write(past);
      if (!follow) {
        sock.end();
        return STREAMED;
      }
      // Read only: what the client sends is not typed into the console.
      follow.on('data', (b: Buffer) => sock.write(b));
      const stop = () => follow.destroy();
      sock.on('close', stop);
      signal.addEventListener('abort', stop);
      return STREAMED;
    }
    default:
      throw new TopoError(`unknown request ${JSON.stringify((req as { op?: unknown }).op)}`, { code: 'E_BAD_REQUEST' });
  }
}

/** Answer ok, then bridge raw bytes both ways; closing either side ends both (a channel is not destroyed by a client leaving). */
function startStream(sock: net.Socket, stream: import('node:stream').Duplex, destroyStream = true): void {
  sock.write(`${JSON.stringify({ id: 0, ok: true })}\n`);
  const toClient = (b: Buffer) => sock.write(b);
  const toStream = (b: Buffer) => stream.write(b);
  stream.on('data', toClient);
  stream.resume();
  sock.on('data', toStream);
  const end = () => {
    stream.off('data', toClient);
    sock.off('data', toStream);
    // A channel outlives its client: pause it so guest bytes wait (virtio-serial backpressure) for the next one.
    if (destroyStream) stream.destroy();
    else stream.pause();
    sock.end();
  };
  sock.once('close', end);
  stream.once('close', () => sock.end());
}

export function lastLines(buf: Buffer, n: number): Buffer {
  if (n <= 0) return Buffer.alloc(0);
  let end = buf.length;
  if (end > 0 && buf[end - 1] === 0x0a) end--;
  let pos = end;
  for (let i = 0; i < n; i++) {
    const nl = buf.lastIndexOf(0x0a, pos - 1);
    if (nl < 0) return buf;
    pos = nl;
  }
  return buf.subarray(pos + 1);
}
