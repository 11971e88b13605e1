// Client side of the control socket: checks who owns it, reads the hello, sends requests, opens raw streams.
import { lstat } from 'node:fs/promises';
import net from 'node:net';
import { TopoError } from '../errors.js';
import { fromBody, LineReader, PROTOCOL_VERSION, type Hello, type Request, type Response } from './protocol.js';

const HELLO_TIMEOUT_MS = 5_000;

/** Refuse a socket another user could have planted: it must be ours, and a socket. */
async function checkOwner(sockPath: string, lab: string): Promise<void> {
  const st = await lstat(sockPath).catch(() => undefined);
  if (!st) throw new TopoError(`lab ${lab} has no control socket (${sockPath})`, { code: 'E_NOT_RUNNING', hint: 'is it running? see `topo ps`' });
  const uid = process.getuid?.();
  if (!st.isSocket() || (uid !== undefined && st.uid !== uid)) {
    throw new TopoError(`refusing ${sockPath}: not a socket owned by uid ${uid}`, { code: 'E_RUNDIR', hint: 'another user owns it; remove it' });
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
    const sock = net.createConnection(sockPath);
    const hello = await new Promise<Hello>((resolve, reject) => {
      const fail = (why: string) => {
        clearTimeout(timer);
        sock.destroy();
        reject(new TopoError(`lab ${lab} does not answer on its control socket (${why})`, { code: 'E_NOT_RUNNING', hint: 'its supervisor may have died: `topo ps` shows it as stale, `topo down` cleans it up' }));
      };
      const timer = setTimeout(() => fail('no hello'), HELLO_TIMEOUT_MS);
      sock.once('error', (err) => fail((err as NodeJS.ErrnoException).code ?? err.message));
      let buf = '';
      const onData = (b: Buffer) => {
        buf += b.toString('utf8');
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        sock.off('data', onData);
        clearTimeout(timer);
        const rest = Buffer.from(buf.slice(nl + 1), 'utf8');
        if (rest.length) sock.unshift(rest);
        try {
          resolve(JSON.parse(buf.slice(0, nl)) as Hello);
        } catch {
          fail('malformed hello');
        }
      };
      sock.on('data', onData);
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
    const reader = new LineReader(
      (line) => {
        let r: Response;
        try {
          r = JSON.parse(line) as Response;
        } catch {
          return;
        }
        const w = this.waiters.get(r.id);
        if (!w) return;
        this.waiters.delete(r.id);
        w.resolve(r);
      },
      () => this.sock.destroy(),
    );
    this.sock.on('data', (b: Buffer) => reader.push(b));
    const closed = () => {
      this.closedError ??= new TopoError(`lab ${this.hello.lab}: control connection closed`, { code: 'E_NOT_RUNNING' });
      for (const w of this.waiters.values()) w.reject(this.closedError);
      this.waiters.clear();
    };
    this.sock.on('close', closed);
    this.sock.on('error', () => undefined);
  }

  async request<T>(req: Request): Promise<T> {
    if (this.closedError) throw this.closedError;
    const id = this.nextId++;
    const res = await new Promise<Response>((resolve, reject) => {
      this.waiters.set(id, { resolve, reject });
      this.sock.write(`${JSON.stringify({ v: PROTOCOL_VERSION, id, ...req })}\n`);
    });
    if (!res.ok) throw fromBody(res.error);
    return res.result as T;
  }

  close(): void {
    this.sock.destroy();
  }

  /** A new connection that turns into a raw byte stream after the server's ok (console, logs, channel). */
  static async stream(sockPath: string, lab: string, req: Request): Promise<net.Socket> {
    const conn = await ControlConnection.open(sockPath, lab);
    const sock = conn.sock;
    sock.removeAllListeners('data');
    sock.removeAllListeners('close');
    sock.write(`${JSON.stringify({ v: PROTOCOL_VERSION, id: 1, ...req })}\n`);
    return new Promise<net.Socket>((resolve, reject) => {
      let buf = Buffer.alloc(0);
      const onData = (b: Buffer) => {
        buf = Buffer.concat([buf, b]);
        const nl = buf.indexOf(0x0a);
        if (nl < 0) return;
        sock.off('data', onData);
        sock.pause();
        const rest = buf.subarray(nl + 1);
        let r: Response;
        try {
          r = JSON.parse(buf.subarray(0, nl).toString('utf8')) as Response;
        } catch {
          sock.destroy();
          return reject(new TopoError('malformed reply from the lab', { code: 'E_PROTOCOL' }));
        }
        if (!r.ok) {
          sock.destroy();
          return reject(fromBody(r.error));
        }
        if (rest.length) sock.unshift(rest);
        resolve(sock);
      };
      sock.on('data', onData);
      sock.once('close', () => reject(new TopoError(`lab ${lab}: control connection closed`, { code: 'E_NOT_RUNNING' })));
    });
  }
}
