// Minimal QMP client over any Duplex (a socketpair end): greeting, qmp_capabilities, commands in order, events.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { LineFramer } from '../host/lines.js';
import { TopoError } from '../errors.js';

/** QMP lines are replies and events; the largest (query-qmp-schema) are well under this. */
const MAX_QMP_LINE = 16 * 1024 * 1024;

export interface QmpEvent {
  event: string;
  data?: unknown;
  timestamp?: { seconds: number; microseconds: number };
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

export class QmpClient extends EventEmitter<{ event: [QmpEvent]; close: [] }> {
  private readonly lines: LineFramer;
  private readonly pending: Pending[] = [];
  private greeted: Promise<void>;
  private closed = false;

  constructor(private readonly stream: Duplex, private readonly node?: string) {
    super();
    let onGreeting!: () => void;
    this.greeted = new Promise<void>((resolve) => (onGreeting = resolve));
    this.lines = new LineFramer({
      max: MAX_QMP_LINE,
      onLine: (line) => {
        const text = line.toString('utf8').trim();
        if (text) this.onMessage(text, onGreeting);
      },
      // Replies come in order: an overlong one (not an event) belongs to the oldest command.
      onTooLong: (head) => {
        if (/^\s*\{\s*"event"/.test(head.toString('utf8'))) return;
        this.pending.shift()?.reject(new TopoError(`QMP reply longer than ${MAX_QMP_LINE} bytes`, { code: 'E_QMP', node: this.node }));
      },
    });
    stream.on('data', (chunk: Buffer) => this.lines.push(chunk));
    stream.on('error', () => this.onClose());
    stream.on('close', () => this.onClose());
  }

  /** Wait for the greeting and leave capabilities negotiation mode. */
  async connect(): Promise<void> {
    await this.greeted;
    await this.execute('qmp_capabilities');
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closed) return Promise.reject(this.closedError(command));
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ resolve: resolve as (v: unknown) => void, reject });
      this.stream.write(`${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`);
    });
  }

  close(): void {
    this.stream.destroy();
  }

  private onMessage(line: string, onGreeting: () => void): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if ('QMP' in msg) return onGreeting();
    if ('event' in msg) {
      this.emit('event', msg as unknown as QmpEvent);
      return;
    }
    const waiter = this.pending.shift();
    if (!waiter) return;
    if ('error' in msg) {
      const e = msg.error as { class?: string; desc?: string };
      waiter.reject(new TopoError(`QMP error: ${e.desc ?? e.class ?? 'unknown'}`, { code: 'E_QMP', node: this.node }));
    } else waiter.resolve(msg.return);
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const waiter of this.pending.splice(0)) waiter.reject(this.closedError('pending command'));
    this.emit('close');
  }

  private closedError(what: string): TopoError {
    return new TopoError(`QMP channel closed before ${what} completed`, { code: 'E_QMP_CLOSED', node: this.node });
  }
}
