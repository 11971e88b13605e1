// The hello of a link between runners over TCP: each side proves it holds the lab's secret by an HMAC over
// both sides' fresh nonces, so a recorded hello is useless on a new connection and no other peer can inject frames.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import { LineFramer } from '../host/lines.js';

export interface LinkIdentity {
  lab: string;
  link: string;
  /** The lab's incarnation: a runner of an older epoch of the same lab is refused. */
  epoch: number;
}

export interface HelloAuth extends LinkIdentity {
  secret: Buffer;
}

export type TcpRole = 'dial' | 'listen';

/** Why a connection was refused; also the key of the refusal counters. */
export type RefusalReason = 'malformed' | 'identity' | 'proof' | 'timeout' | 'closed';

export class HelloRefused extends Error {
  override readonly name = 'HelloRefused';
  constructor(readonly reason: RefusalReason, detail: string) {
    super(detail);
  }
}

const VERSION = 'topo-link/1';
/** A hello or proof line never needs more; a longer one is refused before it is buffered further. */
export const MAX_HELLO_LINE = 1024;
const NONCE_BYTES = 32;

interface Hello extends LinkIdentity {
  v: string;
  role: TcpRole;
  nonce: string;
}

export function helloLine(id: LinkIdentity, role: TcpRole, nonce: Buffer): string {
  const h: Hello = { v: VERSION, lab: id.lab, link: id.link, epoch: id.epoch, role, nonce: nonce.toString('hex') };
  return `${JSON.stringify(h)}\n`;
}

export function parseHello(line: string): Hello {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new HelloRefused('malformed', 'hello is not JSON');
  }
  const h = v as Partial<Hello> | null;
  if (h === null || typeof h !== 'object' || h.v !== VERSION || typeof h.lab !== 'string' || typeof h.link !== 'string' ||
    !Number.isSafeInteger(h.epoch) || (h.role !== 'dial' && h.role !== 'listen') || typeof h.nonce !== 'string' ||
    !/^[0-9a-f]{64}$/.test(h.nonce)) {
    throw new HelloRefused('malformed', `hello is not a ${VERSION} hello`);
  }
  return h as Hello;
}

/** The proof a side of `role` sends: bound to the role (no reflection), the identity and both nonces (no replay). */
export function proofFor(auth: HelloAuth, role: TcpRole, senderNonce: Buffer, receiverNonce: Buffer): Buffer {
  const mac = createHmac('sha256', auth.secret);
  mac.update(`${VERSION}\0${role}\0${auth.lab}\0${auth.link}\0${auth.epoch}\0`);
  mac.update(senderNonce);
  mac.update(receiverNonce);
  return mac.digest();
}

/** Reads the two hello lines (hello, proof) off a socket; what follows them is the caller's (the first frames). */
class LineReader {
  private lines: string[] = [];
  /** Lines read so far: after the second one, bytes are frames and no longer split. */
  private read = 0;
  private after: Buffer[] = [];
  private waiter: ((err?: Error) => void) | null = null;
  private failed: Error | null = null;
  private readonly framer = new LineFramer({
    max: MAX_HELLO_LINE,
    onLine: (line) => {
      this.read++;
      this.lines.push(line.toString('utf8'));
    },
    onTooLong: () => this.fail(new HelloRefused('malformed', `hello line longer than ${MAX_HELLO_LINE} bytes`)),
  });

  constructor(private readonly sock: Socket) {
    sock.on('data', this.onData);
    sock.on('close', this.onClose);
    sock.on('error', this.onClose);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.read >= 2) this.after.push(chunk);
    else {
      const rest = this.framer.push(chunk, () => this.read >= 2);
      if (rest?.length) this.after.push(rest);
    }
    this.waiter?.();
  };

  private readonly onClose = (): void => this.fail(new HelloRefused('closed', 'peer closed during the hello'));

  fail(err: Error): void {
    this.failed ??= err;
    this.waiter?.();
  }

  async line(): Promise<string> {
    for (;;) {
      const l = this.lines.shift();
      if (l !== undefined) return l;
      if (this.failed !== null) throw this.failed;
      await new Promise<void>((resolve) => (this.waiter = () => resolve()));
      this.waiter = null;
    }
  }

  /** Stop reading lines; returns the bytes after the last line, with the socket paused. */
  detach(): Buffer {
    this.sock.pause();
    this.sock.off('data', this.onData);
    this.sock.off('close', this.onClose);
    this.sock.off('error', this.onClose);
    return Buffer.concat(this.after);
  }
}

/**
 * Runs the hello on a fresh connection. Resolves with any bytes the peer sent after its proof (the first
 * frames) and the socket paused; rejects with HelloRefused (the caller closes the socket).
 */
export async function handshake(sock: Socket, auth: HelloAuth, role: TcpRole, timeoutMs: number): Promise<Buffer> {
  const reader = new LineReader(sock);
  const timer = setTimeout(() => reader.fail(new HelloRefused('timeout', `no hello within ${timeoutMs} ms`)), timeoutMs);
  try {
    const mine = randomBytes(NONCE_BYTES);
    sock.write(helloLine(auth, role, mine));
    const peer = parseHello(await reader.line());
    if (peer.lab !== auth.lab || peer.link !== auth.link || peer.epoch !== auth.epoch || peer.role === role) {
      throw new HelloRefused('identity',
        `peer is lab ${peer.lab} link ${peer.link} epoch ${peer.epoch} (${peer.role}), ` +
        `expected lab ${auth.lab} link ${auth.link} epoch ${auth.epoch}`);
    }
    const theirs = Buffer.from(peer.nonce, 'hex');
    sock.write(`${proofFor(auth, role, mine, theirs).toString('hex')}\n`);
    const proofLine = await reader.line();
    const got = /^[0-9a-f]{64}$/.test(proofLine) ? Buffer.from(proofLine, 'hex') : Buffer.alloc(32);
    const want = proofFor(auth, peer.role, theirs, mine);
    if (!timingSafeEqual(got, want)) throw new HelloRefused('proof', 'peer does not hold the lab secret');
    return reader.detach();
  } catch (err) {
    reader.detach();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Which side of a cross-runner link dials: the node that sorts first (ties on iface for a node linked to itself). */
export function tcpRoleFor(self: { node: string; iface: string }, peer: { node: string; iface: string }): TcpRole {
  const a = `${self.node}\0${self.iface}`;
  const b = `${peer.node}\0${peer.iface}`;
  return a < b ? 'dial' : 'listen';
}
