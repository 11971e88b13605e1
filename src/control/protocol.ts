// The control protocol, shared by server and client: JSON lines over a Unix socket or TCP, versioned, bounded.
//
// On connect the server sends a hello:  {"topo":"control","version":1,"lab":"NAME","pid":N}
// The client sends one request per line: {"v":1,"id":N,"op":"...",...}
// The server answers each:               {"id":N,"ok":true,"result":...} | {"id":N,"ok":false,"error":{code,message,hint?,node?}}
// Streaming ops (console, logs, channel, capture) answer ok once, then the connection carries raw bytes both ways until closed.
// Over TCP (a runner's control port) the two sides first run the mutual hello of src/host/mutual-hello.ts (tag
// topo-control/1, identity: the lab name): the server says nothing of the above to a peer that has not proved the secret.
import { TopoError } from '../errors.js';
import type { Direction } from '../api/dataplane.js';
import type { ImpairSpec } from '../topology/impairment.js';
import { MAX_DATA_BYTES, base64Length } from '../guest/agent-client.js';
import type { HelloSpec } from '../host/mutual-hello.js';

export { MAX_DATA_BYTES };

export const PROTOCOL_VERSION = 1;
export const SOCKET_NAME = 'control.sock';
/** Largest line either way: an exec's stdin (request) or output (reply) travels base64 inside it, plus room for the rest. */
export const MAX_LINE_BYTES = base64Length(MAX_DATA_BYTES) + 1024 * 1024;
/** What all connections of one lab's socket may hold of unfinished lines together. */
export const DEFAULT_BUFFER_BUDGET = 256 * 1024 * 1024;

export interface Hello {
  topo: 'control';
  version: number;
  lab: string;
  pid: number;
}

export type Request =
  | { op: 'status' }
  | { op: 'exec'; node: string; cmd: string | string[]; timeoutMs?: number; stdin?: string; maxOutput?: number }
  | { op: 'console'; node: string }
  | { op: 'logs'; node: string; follow?: boolean; tail?: number }
  | { op: 'channel'; node: string; name: string }
  | { op: 'link'; endpoint: string; state: 'up' | 'down' }
  | { op: 'impair'; endpoint?: string; spec?: ImpairSpec; clear?: boolean; direction?: Direction }
  | { op: 'capture'; endpoint: string; format?: 'pcap' | 'pcapng' }
  | { op: 'node'; node: string; action: 'restart' | 'kill' | 'stop' | 'start' }
  | { op: 'down' };

/** Over TCP (a runner's control port), before any of the above: the mutual hello of src/host/mutual-hello.ts. */
export const CONTROL_HELLO_VERSION = 'topo-control/1';
/** Connect and authenticate within this, or the connection is dropped. */
export const AUTH_TIMEOUT_MS = 5_000;

export function controlHelloSpec(lab: string, secret: Buffer): HelloSpec {
  return { version: CONTROL_HELLO_VERSION, identity: { lab }, secret };
}

export const STREAMING_OPS = new Set(['console', 'logs', 'channel', 'capture']);

export interface ErrorBody {
  code: string;
  message: string;
  hint?: string;
  node?: string;
}

export type Response = { id: number; ok: true; result?: unknown } | { id: number; ok: false; error: ErrorBody };

export function errorBody(err: unknown): ErrorBody {
  if (err instanceof TopoError) return { code: err.code, message: err.message, hint: err.hint, node: err.node };
  return { code: 'E_INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

export function fromBody(body: ErrorBody): TopoError {
  return new TopoError(body.message, { code: body.code, hint: body.hint, node: body.node });
}

/** The request id an overlong or dropped line was for: clients put `"id"` first, so its head names it (0 if not). */
export function idInHead(head: Buffer): number {
  const m = /^\{\s*"id"\s*:\s*(\d{1,15})\b/.exec(head.toString('latin1'));
  return m ? Number(m[1]) : 0;
}

/** One request line as the client sends it: the id first, so that even an overlong line can be answered. */
export function requestLine(id: number, req: Request): string {
  return `${JSON.stringify({ id, v: PROTOCOL_VERSION, ...req })}\n`;
}
