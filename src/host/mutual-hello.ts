// A mutually authenticated hello on a fresh TCP connection: each side sends a fresh nonce, then proves it holds the
// shared secret by an HMAC over the protocol, its role, the identity and both nonces (no replay, no reflection).
// Used by links between runners (src/net/tcp-hello.ts) and by the control protocol over TCP.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import { LineFramer } from './lines.js';

export type HelloRole = 'dial' | 'listen';

/** Why a connection was refused; also the key of the refusal counters. */
export type RefusalReason = 'malformed' | 'identity' | 'proof' | 'timeout' | 'closed';

export class HelloRefused extends Error {
  override readonly name = 'HelloRefused';
  constructor(readonly reason: RefusalReason, detail: string) {
    super(detail);
  }
}

/** A hello or proof line never needs more; a longer one is refused before it is buffered further. */
export const MAX_HELLO_LINE = 1024;
const NONCE_BYTES = 32;

/** What both sides must agree on: the protocol tag, the identity (in a fixed key order), the secret. */
export interface HelloSpec {
  version: string;
  identity: Readonly<Record<string, string | number>>;
  secret: Buffer;
}

export type PeerHello = Record<string, string | number> & { v: string; role: HelloRole; nonce: string };

export function helloLineOf(version: string, identity: HelloSpec['identity'], role: HelloRole, nonce: Buffer): string {
  return `${JSON.stringify({ v: version, ...identity, role, nonce: nonce.toString('hex') })}\n`;
}

/** A peer's hello, its identity fields of the same types as `identity`'s. */
export function parseHelloOf(version: string, identity: HelloSpec['identity'], line: string): PeerHello {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new HelloRefused('malformed', 'hello is not JSON');
  }
  const h = v as Record<string, unknown> | null;
  const typed = (k: string, want: unknown) => (typeof want === 'number' ? Number.isSafeInteger(h![k]) : typeof h![k] === 'string');
  if (h === null || typeof h !== 'object' || h.v !== version || !Object.entries(identity).every(([k, w]) => typed(k, w)) ||
    (h.role !== 'dial' && h.role !== 'listen') || typeof h.nonce !== 'string' || !/^[0-9a-f]{64}$/.test(h.nonce)) {
    throw new HelloRefused('malformed', `hello is not a ${version} hello`);
  }
  return h as PeerHello;
}

/** The proof a side of `role` sends: bound to the role (no reflection), the identity and both nonces (no replay). */
export function proofOf(spec: HelloSpec, role: HelloRole, senderNonce: Buffer, receiverNonce: Buffer): Buffer {
  const mac = createHmac('sha256', spec.secret);
  mac.update(`${[spec.version, role, ...Object.values(spec.identity)].join('\0')}\0`);
  mac.update(senderNonce);
  mac.update(receiverNonce);
  return mac.digest();
}

/** Reads the two hello lines (hello, proof) off a socket; what follows them is the caller's. */
class LineReader {
  private lines: string[] = [];
  /** Lines read so far: after the second one, bytes are the caller's and no longer split. */
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
 * Runs the hello on a fresh connection. Resolves with any bytes the peer sent after its proof and the socket
 * paused; rejects with HelloRefused (the caller closes the socket).
 */
export async function mutualHello(sock: Socket, spec: HelloSpec, role: HelloRole, timeoutMs: number): Promise<Buffer> {
  const reader = new LineReader(sock);
  const timer = setTimeout(() => reader.fail(new HelloRefused('timeout', `no hello within ${timeoutMs} ms`)), timeoutMs);
  try {
    const mine = randomBytes(NONCE_BYTES);
    sock.write(helloLineOf(spec.version, spec.identity, role, mine));
    const peer = parseHelloOf(spec.version, spec.identity, await reader.line());
    const keys = Object.keys(spec.identity);
    if (keys.some((k) => peer[k] !== spec.identity[k]) || peer.role === role) {
      const words = (o: Record<string, unknown>) => keys.map((k) => `${k} ${String(o[k])}`).join(' ');
      throw new HelloRefused('identity', `peer is ${words(peer)} (${peer.role}), expected ${words(spec.identity)}`);
    }
    const theirs = Buffer.from(peer.nonce, 'hex');
    sock.write(`${proofOf(spec, role, mine, theirs).toString('hex')}\n`);
    const proofLine = await reader.line();
    const got = /^[0-9a-f]{64}$/.test(proofLine) ? Buffer.from(proofLine, 'hex') : Buffer.alloc(32);
    const want = proofOf(spec, peer.role, theirs, mine);
    if (!timingSafeEqual(got, want)) throw new HelloRefused('proof', 'peer does not hold the lab secret');
    return reader.detach();
  } catch (err) {
    reader.detach();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
