// The hello of a link between runners over TCP: each side proves it holds the lab's secret by an HMAC over
// both sides' fresh nonces, so a recorded hello is useless on a new connection and no other peer can inject frames.

import type { Socket } from 'node:net';
import { helloLineOf, mutualHello, parseHelloOf, proofOf, type HelloRole, type HelloSpec } from '../host/mutual-hello.js';

export { HelloRefused, MAX_HELLO_LINE, type RefusalReason } from '../host/mutual-hello.js';

export interface LinkIdentity {
  lab: string;
  link: string;
  /** The lab's incarnation: a runner of an older epoch of the same lab is refused. */
  epoch: number;
}

export interface HelloAuth extends LinkIdentity {
  secret: Buffer;
}

export type TcpRole = HelloRole;

const VERSION = 'topo-link/1';

interface Hello extends LinkIdentity {
  v: string;
  role: TcpRole;
  nonce: string;
}

const spec = (auth: HelloAuth): HelloSpec => ({ version: VERSION, identity: { lab: auth.lab, link: auth.link, epoch: auth.epoch }, secret: auth.secret });

export function helloLine(id: LinkIdentity, role: TcpRole, nonce: Buffer): string {
  return helloLineOf(VERSION, { lab: id.lab, link: id.link, epoch: id.epoch }, role, nonce);
}

export function parseHello(line: string): Hello {
  return parseHelloOf(VERSION, { lab: '', link: '', epoch: 0 }, line) as unknown as Hello;
}

/** The proof a side of `role` sends: bound to the role (no reflection), the identity and both nonces (no replay). */
export function proofFor(auth: HelloAuth, role: TcpRole, senderNonce: Buffer, receiverNonce: Buffer): Buffer {
  return proofOf(spec(auth), role, senderNonce, receiverNonce);
}

/**
 * Runs the hello on a fresh connection. Resolves with any bytes the peer sent after its proof (the first
 * frames) and the socket paused; rejects with HelloRefused (the caller closes the socket).
 */
export function handshake(sock: Socket, auth: HelloAuth, role: TcpRole, timeoutMs: number): Promise<Buffer> {
  return mutualHello(sock, spec(auth), role, timeoutMs);
}

/** Which side of a cross-runner link dials: the node that sorts first (ties on iface for a node linked to itself). */
export function tcpRoleFor(self: { node: string; iface: string }, peer: { node: string; iface: string }): TcpRole {
  const a = `${self.node}\0${self.iface}`;
  const b = `${peer.node}\0${peer.iface}`;
  return a < b ? 'dial' : 'listen';
}
