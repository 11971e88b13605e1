// Host side of the guest agent (guest/agent.sh) over the virtio-serial port "org.topo.agent".
//
// Line protocol, "\n"-terminated lines, fields separated by one space, free text base64 (standard
// alphabet, one line), "-" for an empty base64 field. Requests run concurrently; replies come in any
// order, each whole on one line, and are matched by <id> ([0-9A-Za-z_-], unique among running requests):
//   -> P <id>                                          <- O <id>
//   -> X <id> <timeout_ms> <b64 command> [<b64 stdin>] <- R <id> <exit_code> <timed_out 0|1> <b64 stdout> <b64 stderr>
//   -> K <id>                                          (no reply of its own: X <id> then replies, exit_code 137)
//                                                      <- E <id> <b64 message>   (malformed request, duplicate id)
// timeout_ms 0 means none. Without <b64 stdin> (or with "-") the command's stdin is /dev/null. On timeout
// the guest kills the command's whole process group with SIGKILL and replies timed_out=1, exit_code 137;
// K kills it the same way (timed_out=0). Replies to ids nobody waits for (aborted, timed out) are ignored.
// Bounds: stdin up to MAX_DATA_BYTES; a reply whose output is over the limit is skipped unbuffered (E_OUTPUT_LIMIT).
import type { Duplex } from 'node:stream';
import { ByteBudget, LineFramer } from '../host/lines.js';
import { TopoError } from '../errors.js';

/** Stdin of one exec, or one copied file: the documented limit on the data itself, whatever the encoding. */
export const MAX_DATA_BYTES = 64 * 1024 * 1024;
/** stdout and stderr of one exec together, unless ExecOptions.maxOutput lowers it. */
export const MAX_OUTPUT_BYTES = MAX_DATA_BYTES;
/** Longest guest-side timeout: Node timers overflow past 2^31-1 ms, and the host waits a grace period longer. */
export const MAX_TIMEOUT_MS = 24 * 24 * 3600 * 1000;

export const base64Length = (bytes: number) => 4 * Math.ceil(bytes / 3);
/** What all agent channels of this process (every node) may hold of unfinished replies together. */
export const AGENT_BUFFER_BUDGET = new ByteBudget(512 * 1024 * 1024);
const MiB = (n: number) => (n < 1024 * 1024 ? `${n} bytes` : `${+(n / 1024 / 1024).toFixed(2)} MiB`);

export interface ExecResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  timedOut: boolean;
}

export interface ExecOptions {
  /** Guest-side limit: the command's process group is killed after this long. */
  timeoutMs?: number;
  /** Host-side limit on waiting for the reply; default timeoutMs + 60 s, or DEFAULT_REPLY_TIMEOUT_MS. */
  replyTimeoutMs?: number;
  /** Fed to the command's stdin (default: /dev/null). */
  stdin?: Buffer | string;
  /** Abort kills the command in the guest (K) and rejects with E_ABORTED. */
  signal?: AbortSignal;
  /** Bytes of stdout and stderr together (default and most MAX_OUTPUT_BYTES); more fails with E_OUTPUT_LIMIT. */
  maxOutput?: number;
}

export interface AgentClientOptions {
  /** How long the first request waits for the agent's first answer before E_NO_AGENT. */
  greetingTimeoutMs?: number;
  /** Host-side reply limit of commands without timeoutMs. */
  defaultReplyTimeoutMs?: number;
  /** Shared with other clients (default AGENT_BUFFER_BUDGET); a reply that does not fit fails with E_BUSY. */
  budget?: ByteBudget;
}

/** exec() never waits forever: commands without timeoutMs are given up (and killed) after this. */
export const DEFAULT_REPLY_TIMEOUT_MS = 10 * 60_000;
const REPLY_GRACE_MS = 60_000;
const GREETING_TIMEOUT_MS = 30_000;
const MAX_TIMER_MS = 2 ** 31 - 1;
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One sh command line running exactly `argv`: each word single-quoted unless it is plainly safe. */
export function shellQuote(argv: readonly string[]): string {
  return argv.map((w) => (SAFE_WORD.test(w) ? w : `'${w.replaceAll("'", `'\\''`)}'`)).join(' ');
}

/** Bounds a request before anything is sent: stdin size and a timeout a timer can hold. */
export function checkExecLimits(timeoutMs: number | undefined, opts: { stdin?: Buffer | string }, node?: string): void {
  if (timeoutMs !== undefined && !(timeoutMs <= MAX_TIMEOUT_MS)) {
    throw new TopoError(`timeout ${timeoutMs} ms is longer than the longest exec timeout, 24 days (${MAX_TIMEOUT_MS} ms)`, { code: 'E_BAD_REQUEST', node, hint: 'use 0 for none' });
  }
  const size = opts.stdin === undefined ? 0 : Buffer.byteLength(opts.stdin);
  if (size > MAX_DATA_BYTES) throw stdinTooLarge(`is ${size} bytes`, node);
}

export function stdinTooLarge(what: string, node?: string): TopoError {
  return new TopoError(`stdin ${what}; an exec takes at most ${MiB(MAX_DATA_BYTES)} (${MAX_DATA_BYTES} bytes)`, { code: 'E_TOO_LARGE', node, hint: 'put larger files in a share' });
}

type Pending = { resolve: (fields: string[]) => void; reject: (err: Error) => void; dropped?: (overBudget: boolean) => void };

function decode(field: string | undefined): Buffer {
  return !field || field === '-' ? Buffer.alloc(0) : Buffer.from(field, 'base64');
}

function b64(data: Buffer | string): string {
  return data.length === 0 ? '-' : Buffer.from(data).toString('base64');
}

export class AgentClient {
  private readonly lines: LineFramer;
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;
  private closedReason: string | undefined;
  private greeted = false;
  private greeting: Promise<void> | undefined;
  private readonly greetingTimeoutMs: number;
  private readonly defaultReplyTimeoutMs: number;
  private readonly budget: ByteBudget;

  /** `node` only labels errors. */
  constructor(
    private readonly stream: Duplex,
    private readonly node?: string,
    opts: AgentClientOptions = {},
  ) {
    this.greetingTimeoutMs = opts.greetingTimeoutMs ?? GREETING_TIMEOUT_MS;
    this.defaultReplyTimeoutMs = opts.defaultReplyTimeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS;
    this.budget = opts.budget ?? AGENT_BUFFER_BUDGET;
    // A reply holds base64 stdout and stderr (at most MAX_OUTPUT_BYTES together) and a few short fields.
    const dropped = (head: Buffer, overBudget: boolean) => this.pending.get(head.toString('latin1').split(' ')[1] ?? '')?.dropped?.(overBudget);
    this.lines = new LineFramer({
      // Two base64 fields of MAX_OUTPUT_BYTES together (padding: +4) and a short head.
      max: base64Length(MAX_OUTPUT_BYTES) + 256,
      onLine: (line) => this.onLine(line.toString('latin1')),
      onTooLong: (head) => dropped(head, false),
      budget: this.budget,
      onOverBudget: (head) => dropped(head, true),
    });
    stream.on('close', () => this.lines.close());
    stream.on('data', (chunk: Buffer) => this.lines.push(chunk));
    const closed = () => this.fail('agent channel closed');
    stream.on('end', closed);
    stream.on('close', closed);
    stream.on('error', (err: Error) => this.fail(`agent channel error: ${err.message}`));
  }

  /** Runs `command` with `sh` in the guest (an argv array is quoted with shellQuote). Requests run concurrently. */
  async exec(command: string | readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const text = typeof command === 'string' ? command : shellQuote(command);
    const what = `command ${JSON.stringify(text.split('\n')[0])}`;
    if (opts.signal?.aborted) throw this.aborted(what);
    await this.untilAborted(this.greet(), opts.signal, what);
    const timeoutMs = Math.max(0, Math.ceil(opts.timeoutMs ?? 0));
    checkExecLimits(timeoutMs, opts, this.node);
    const maxOutput = Math.min(opts.maxOutput ?? MAX_OUTPUT_BYTES, MAX_OUTPUT_BYTES);
    const replyTimeout = Math.min(opts.replyTimeoutMs ?? (timeoutMs > 0 ? timeoutMs + REPLY_GRACE_MS : this.defaultReplyTimeoutMs), MAX_TIMER_MS);
    const stdin = opts.stdin === undefined || opts.stdin.length === 0 ? '' : ` ${b64(opts.stdin)}`;
    const line = (id: string) => `X ${id} ${timeoutMs} ${b64(text)}${stdin}\n`;
    const overLimit = () => new TopoError(`the output of ${what} is over ${MiB(maxOutput)} (stdout and stderr together); it was dropped`, {
      code: 'E_OUTPUT_LIMIT',
      node: this.node,
      hint: 'write it to a file in the guest and copy that, or print less',
    });
    const f = await this.request(line, replyTimeout, what, { signal: opts.signal, kill: true, overLimit });
    if (f[0] !== 'R' || f.length < 4) throw this.error(`agent refused the command: ${decode(f[2]).toString('utf8')}`, what);
    // Checked on the encoded size first: nothing over the limit is decoded.
    if ((f[4]?.length ?? 0) + (f[5]?.length ?? 0) > base64Length(maxOutput) + 4) throw overLimit();
    const r = { exitCode: Number(f[2]), timedOut: f[3] === '1', stdout: decode(f[4]), stderr: decode(f[5]) };
    if (r.stdout.length + r.stderr.length > maxOutput) throw overLimit();
    return r;
  }

  /** Resolves when the agent answers; rejects after timeoutMs (E_NO_AGENT if it never answered at all). */
  async ping(timeoutMs = 5_000): Promise<void> {
    await this.request((id) => `P ${id}\n`, timeoutMs, 'ping');
  }

  /** True once the agent answers a ping within timeoutMs; false on timeout or a closed channel. */
  ready(timeoutMs: number): Promise<boolean> {
    return this.ping(timeoutMs).then(
      () => true,
      () => false,
    );
  }

  /**
   * The guest reset under us (allow_reboot): the agent that took the pending requests is gone and will never answer
   * them, so they fail now rather than at their reply timeout. The channel stays: new requests reach the next agent.
   */
  guestReset(reason: string): void {
    this.lines.reset();
    for (const p of [...this.pending.values()]) p.reject(new Error(reason));
  }

  close(): void {
    this.fail('agent client closed');
    this.stream.destroy();
  }

  /** The first request waits for a pong, so a node without an agent gives E_NO_AGENT, not a long silence. */
  private greet(): Promise<void> {
    if (this.greeted) return Promise.resolve();
    this.greeting ??= this.ping(this.greetingTimeoutMs).finally(() => (this.greeting = undefined));
    return this.greeting;
  }

  private untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
    if (!signal) return p;
    let onAbort = () => {};
    const aborted = new Promise<never>((_, reject) => (onAbort = () => reject(this.aborted(what))));
    signal.addEventListener('abort', onAbort, { once: true });
    return Promise.race([p, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
  }

  private request(line: (id: string) => string, timeoutMs: number, what: string, how: { signal?: AbortSignal; kill?: boolean; overLimit?: () => TopoError } = {}): Promise<string[]> {
    const { signal } = how;
    if (this.closedReason) return Promise.reject(this.error(this.closedReason, what));
    const id = String(this.nextId++);
    return new Promise<string[]>((resolve, reject) => {
      const settle = () => {
        this.pending.delete(id);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      // Given up on: the command must not outlive our interest in it.
      const giveUp = (err: Error) => {
        settle();
        if (how.kill && !this.closedReason) this.stream.write(`K ${id}\n`);
        reject(err);
      };
      const timer = setTimeout(() => giveUp(this.timeoutError(timeoutMs, what)), timeoutMs);
      const onAbort = () => giveUp(this.aborted(what));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        resolve: (f) => (settle(), resolve(f)),
        reject: (e) => (settle(), reject(this.error(e.message, what))),
        // The reply is being skipped: the command has ended, nothing is left to kill.
        dropped: (overBudget) => {
          settle();
          if (!overBudget) return reject(how.overLimit?.() ?? this.error('reply too long', what));
          const limit = this.budget.limit;
          reject(new TopoError(`the reply to ${what} was dropped: the agent replies of all nodes already hold ${MiB(limit)}`, { code: 'E_BUSY', node: this.node, hint: 'run fewer commands with large output at once' }));
        },
      });
      this.stream.write(line(id));
    });
  }

  private timeoutError(ms: number, what: string): TopoError {
    if (this.greeted) return this.error(`no reply from the guest agent within ${ms} ms`, what);
    const who = this.node ? `node ${this.node}` : 'the node';
    return new TopoError(`${who} does not answer on the topo agent channel: is it running topo's default guest?`, {
      code: 'E_NO_AGENT',
      node: this.node,
      hint: `no answer to ${what} within ${ms} ms`,
    });
  }

  private aborted(what: string): TopoError {
    return new TopoError(`aborted (${what})`, { code: 'E_ABORTED', node: this.node });
  }

  private error(message: string, what: string): TopoError {
    return new TopoError(`${message} (${what})`, { code: 'E_AGENT', node: this.node });
  }

  private onLine(line: string): void {
    const fields = line.split(' ');
    if (!/^[ORE]$/.test(fields[0] ?? '')) return;
    this.greeted = true;
    this.pending.get(fields[1] ?? '')?.resolve(fields);
  }

  private fail(reason: string): void {
    this.closedReason ??= reason;
    for (const p of [...this.pending.values()]) p.reject(new Error(reason));
  }
}
