// Client side of the control protocol: over the lab's Unix socket (checks who owns it) or over TCP to a runner (mutual
// authentication first); then reads the hello, sends requests, opens raw streams.
import { lstat } from 'node:fs/promises';
import net from 'node:net';
import { TopoError } from '../errors.js';
import { LineFramer } from '../host/lines.js';
import { HelloRefused, mutualHello } from '../host/mutual-hello.js';
import { AUTH_TIMEOUT_MS, controlHelloSpec, fromBody, idInHead, MAX_LINE_BYTES, PROTOCOL_VERSION, requestLine, type Hello, type Request, type Response } from './protocol.js';

const HELLO_TIMEOUT_MS = 5_000;
/** A hello or a stream's first reply is short; more is not a topo lab talking. */
const SHORT_LINE_BYTES = 64 * 1024;

/** Reads the first line of `sock`, then hands the bytes after it back to the socket (they are raw or framed later). */
function firstLine(sock: net.Socket, onLine: (line: Buffer) => void, onTooLong: () => void): void {
  let done = false;
  const framer = new LineFramer({
    max: SHORT_LINE_BYTES,
    onLine: (line) => {
      done = true;
      sock.off('data', onData);
      onLine(line);
    },
    onTooLong: () => {
      done = true;
      sock.off('data', onData);
      onTooLong();
    },
  });
  const onData = (b: Buffer) => {
    const rest = framer.push(b, () => done);
    if (rest?.length) sock.unshift(rest);
  };
  sock.on('data', onData);
}

/** Refuse a socket another user could have planted: it must be ours, and a socket. */
async function checkOwner(sockPath: string, lab: string): Promise<void> {
  const st = await lstat(sockPath).catch(() => undefined);
  if (!st) throw new TopoError(`lab ${lab} has no control socket (${sockPath})`, { code: 'E_NOT_RUNNING', hint: 'is it running? see `topo ps`' });
  const uid = process.getuid?.();
  if (!st.isSocket() || (uid !== undefined && st.uid !== uid)) {
    throw new TopoError(`refusing ${sockPath}: not a socket owned by uid ${uid}`, { code: 'E_RUNDIR', hint: 'another user owns it; remove it' });
  }
}

/** A runner's control port and the lab secret both sides hold. */
export interface TcpTarget {
  lab: string;
  host: string;
  port: number;
  secret: Buffer;
  /** Connect plus authentication (default 5 s). */
  timeoutMs?: number;
}

/** Opens one more connection to the same lab (exec with an abort signal, and every stream, take their own). */
export type Dialer = () => Promise<ControlConnection>;

const where = (t: TcpTarget) => `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;

/** A TCP connection to a runner on which both sides proved they hold the lab secret; the socket paused, unread bytes put back. */
async function authenticated(t: TcpTarget): Promise<net.Socket> {
  const timeoutMs = t.timeoutMs ?? AUTH_TIMEOUT_MS;
  const sock = net.createConnection({ host: t.host, port: t.port });
  sock.setNoDelay(true);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })), timeoutMs);
      sock.once('connect', () => (clearTimeout(timer), resolve()));
      sock.once('error', (err) => (clearTimeout(timer), reject(err)));
    });
  } catch (err) {
    sock.destroy();
    throw new TopoError(`lab ${t.lab}: the runner at ${where(t)} does not answer (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, {
      code: 'E_NOT_RUNNING', hint: 'is the runner up and its control port reachable from here?',
    });
  }
  try {
    const rest = await mutualHello(sock, controlHelloSpec(t.lab, t.secret), 'dial', timeoutMs);
    if (rest.length) sock.unshift(rest);
    return sock;
  } catch (err) {
    sock.destroy();
    const reason = err instanceof HelloRefused ? err.reason : undefined;
    const why = reason === 'proof' ? 'wrong secret: it does not hold the same lab secret'
      : reason === 'closed' ? 'it closed the connection during the hello: another secret, or too many connections waiting'
      : `not a topo runner of lab ${t.lab}: ${(err as Error).message}`;
    throw new TopoError(`lab ${t.lab}: refused by ${where(t)} (${why})`, { code: 'E_AUTH', hint: 'use the lab file rendered with this lab (its secret and epoch)' });
  }
}

export class ControlConnection {
  private nextId = 1;
  private readonly waiters = new Map<number, { resolve: (r: Response) => void; reject: (e: Error) => void }>();
  private closedError?: TopoError;

  private constructor(
    readonly sock: net.Socket,
    readonly hello: Hello,
  ) {}

  static async open(sockPath: string, lab: string): Promise<ControlConnection> {
    await checkOwner(sockPath, lab);
    return ControlConnection.greet(net.createConnection(sockPath), lab, 'on its control socket', 'its supervisor may have died: `topo ps` shows it as stale, `topo down` cleans it up');
  }

  /** The control protocol over TCP to a runner, after mutual authentication (E_AUTH when refused either way). */
  static async openTcp(target: TcpTarget): Promise<ControlConnection> {
    return ControlConnection.greet(await authenticated(target), target.lab, `at ${where(target)}`, 'is its runner still up?');
  }

  /** Reads the lab's hello off a fresh connection. */
  private static async greet(sock: net.Socket, lab: string, on: string, hint: string): Promise<ControlConnection> {
    const hello = await new Promise<Hello>((resolve, reject) => {
      const fail = (why: string) => {
        clearTimeout(timer);
        sock.destroy();
        reject(new TopoError(`lab ${lab} does not answer ${on} (${why})`, { code: 'E_NOT_RUNNING', hint }));
      };
      const timer = setTimeout(() => fail('no hello'), HELLO_TIMEOUT_MS);
      sock.once('error', (err) => fail((err as NodeJS.ErrnoException).code ?? err.message));
      firstLine(
        sock,
        (line) => {
          clearTimeout(timer);
          try {
            resolve(JSON.parse(line.toString('utf8')) as Hello);
          } catch {
            fail('malformed hello');
          }
        },
        () => fail('malformed hello'),
      );
      // An authenticated TCP socket comes paused.
      sock.resume();
    });
    if (hello.topo !== 'control' || hello.version !== PROTOCOL_VERSION) {
      sock.destroy();
      throw new TopoError(`lab ${lab} speaks control protocol version ${String(hello.version)}; this topo speaks ${PROTOCOL_VERSION}`, {
        code: 'E_PROTOCOL',
        hint: 'use the topo version that started the lab (or stop it with `kill` and start it again)',
      });
    }
    const conn = new ControlConnection(sock, hello);
    conn.listen();
    return conn;
  }

  private listen(): void {
    const reader = new LineFramer({
      max: MAX_LINE_BYTES,
      onLine: (line) => {
        let r: Response;
        try {
          r = JSON.parse(line.toString('utf8')) as Response;
        } catch {
          return;
        }
        // An error the server could not tie to a request (id 0) belongs to every request still waiting.
        if (r.id === 0 && !r.ok) return this.failAll(fromBody(r.error));
        const w = this.waiters.get(r.id);
        if (!w) return;
        this.waiters.delete(r.id);
        w.resolve(r);
      },
      onTooLong: (head) => {
        const err = new TopoError(`lab ${this.hello.lab}: a reply is longer than ${MAX_LINE_BYTES} bytes`, { code: 'E_TOO_LARGE' });
        const id = idInHead(head);
        if (id === 0 || !this.waiters.has(id)) return this.failAll(err);
        this.waiters.get(id)!.reject(err);
        this.waiters.delete(id);
      },
    });
    this.sock.on('data', (b: Buffer) => reader.push(b));
    const closed = () => {
      this.closedError ??= new TopoError(`lab ${this.hello.lab}: control connection closed`, { code: 'E_NOT_RUNNING' });
      for (const w of this.waiters.values()) w.reject(this.closedError);
      this.waiters.clear();
    };
    this.sock.on('close', closed);
    this.sock.on('error', () => undefined);
  }

  private failAll(err: Error): void {
    for (const w of this.waiters.values()) w.reject(err);
    this.waiters.clear();
  }

  async request<T>(req: Request): Promise<T> {
    if (this.closedError) throw this.closedError;
    const id = this.nextId++;
    const res = await new Promise<Response>((resolve, reject) => {
      this.waiters.set(id, { resolve, reject });
      this.sock.write(requestLine(id, req));
    });
    if (!res.ok) throw fromBody(res.error);
    return res.result as T;
  }

  close(): void {
    this.sock.destroy();
  }

  /** A new connection that turns into a raw byte stream after the server's ok (console, logs, channel). */
  static async stream(dial: Dialer, lab: string, req: Request): Promise<net.Socket> {
    const conn = await dial();
    const sock = conn.sock;
    sock.removeAllListeners('data');
    sock.removeAllListeners('close');
    sock.write(requestLine(1, req));
    return new Promise<net.Socket>((resolve, reject) => {
      firstLine(
        sock,
        (line) => {
          sock.pause();
          let r: Response;
          try {
            r = JSON.parse(line.toString('utf8')) as Response;
          } catch {
            sock.destroy();
            return reject(new TopoError('malformed reply from the lab', { code: 'E_PROTOCOL' }));
          }
          if (!r.ok) {
            sock.destroy();
            return reject(fromBody(r.error));
          }
          resolve(sock);
        },
        () => {
          sock.destroy();
          reject(new TopoError('malformed reply from the lab', { code: 'E_PROTOCOL' }));
        },
      );
      sock.once('close', () => reject(new TopoError(`lab ${lab}: control connection closed`, { code: 'E_NOT_RUNNING' })));
    });
  }
}
