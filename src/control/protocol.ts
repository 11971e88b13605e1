// The control protocol, shared by server and client: JSON lines over a Unix socket, versioned, bounded.
//
// On connect the server sends a hello:  {"topo":"control","version":1,"lab":"NAME","pid":N}
// The client sends one request per line: {"v":1,"id":N,"op":"...",...}
// The server answers each:               {"id":N,"ok":true,"result":...} | {"id":N,"ok":false,"error":{code,message,hint?,node?}}
// Streaming ops (console, logs, channel, capture) answer ok once, then the connection carries raw bytes both ways until closed.
import { TopoError } from '../errors.js';
import type { Direction } from '../runtime/dataplane.js';
import type { ImpairSpec } from '../topology/impairment.js';

export const PROTOCOL_VERSION = 1;
export const SOCKET_NAME = 'control.sock';
/** Largest request line; an exec's stdin travels base64 inside it. */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

export interface Hello {
  topo: 'control';
  version: number;
  lab: string;
  pid: number;
}

export type Request =
  | { op: 'status' }
  | { op: 'exec'; node: string; cmd: string | string[]; timeoutMs?: number; stdin?: string }
  | { op: 'console'; node: string }
  | { op: 'logs'; node: string; follow?: boolean; tail?: number }
  | { op: 'channel'; node: string; name: string }
  | { op: 'link'; endpoint: string; state: 'up' | 'down' }
  | { op: 'impair'; endpoint?: string; spec?: ImpairSpec; clear?: boolean; direction?: Direction }
  | { op: 'capture'; endpoint: string; format?: 'pcap' | 'pcapng' }
  | { op: 'node'; node: string; action: 'restart' | 'kill' | 'stop' | 'start' }
  | { op: 'down' };

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

/** Splits a byte stream into lines without quadratic re-scanning; refuses lines over `max` bytes. */
export class LineReader {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onTooLong: () => void,
    private readonly max = MAX_LINE_BYTES,
  ) {}

  /** Returns the bytes after the first line when `stopAfterLine` says so (a switch to raw mode). */
  push(chunk: Buffer, stopAfterLine?: () => boolean): Buffer | undefined {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      this.chunks.push(chunk.subarray(start, nl));
      const line = Buffer.concat(this.chunks).toString('utf8');
      this.chunks = [];
      this.size = 0;
      start = nl + 1;
      this.onLine(line);
      if (stopAfterLine?.()) return chunk.subarray(start);
    }
    const rest = chunk.subarray(start);
    this.size += rest.length;
    if (this.size > this.max) {
      this.chunks = [];
      this.size = 0;
      this.onTooLong();
      return undefined;
    }
    if (rest.length) this.chunks.push(rest);
    return undefined;
  }
}
