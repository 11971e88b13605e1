// Host side of the guest agent (guest/agent.sh) over the virtio-serial port "org.topo.agent".
//
// Line protocol, one request at a time, "\n"-terminated lines, fields separated by one space,
// free text base64 (standard alphabet, one line), "-" for an empty base64 field:
//   -> P <id>                              <- O <id>
//   -> X <id> <timeout_ms> <b64 command>   <- R <id> <exit_code> <timed_out 0|1> <b64 stdout> <b64 stderr>
//                                          <- E <id> <b64 message>   (malformed request)
// timeout_ms 0 means none. On timeout the guest kills the command's whole process group with SIGKILL
// and replies timed_out=1, exit_code 137. Replies to ids nobody waits for (a ping that timed out) are
// ignored, so a late answer can never be taken for the current request's.
import type { Duplex } from 'node:stream';
import { TopoError } from '../errors.js';

export interface ExecResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  timedOut: boolean;
}

export interface ExecOptions {
  /** Guest-side limit: the command is killed after this long. */
  timeoutMs?: number;
  /** Host-side limit on waiting for the reply; default timeoutMs + 60 s, or none without timeoutMs. */
  replyTimeoutMs?: number;
}

interface Pending {
  id: string;
  resolve: (fields: string[]) => void;
  reject: (err: Error) => void;
}

const NL = 0x0a;

function decode(field: string | undefined): Buffer {
  return !field || field === '-' ? Buffer.alloc(0) : Buffer.from(field, 'base64');
}

function agentError(message: string, node?: string): TopoError {
  return new TopoError(message, { code: 'E_AGENT', node });
}

export class AgentClient {
  private readonly chunks: Buffer[] = [];
  private pending: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 1;
  private closedReason: string | undefined;

  /** `node` only labels errors. */
  constructor(
    private readonly stream: Duplex,
    private readonly node?: string,
  ) {
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    const closed = (why: string) => () => this.fail(why);
    stream.on('end', closed('agent channel closed'));
    stream.on('close', closed('agent channel closed'));
    stream.on('error', (err: Error) => this.fail(`agent channel error: ${err.message}`));
  }

  /** Runs `command` with `sh` in the guest. Requests are queued: one runs at a time. */
  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = Math.max(0, Math.ceil(opts.timeoutMs ?? 0));
    const replyTimeout = opts.replyTimeoutMs ?? (timeoutMs > 0 ? timeoutMs + 60_000 : undefined);
    const b64 = command === '' ? '-' : Buffer.from(command, 'utf8').toString('base64');
    return this.enqueue(async () => {
      const f = await this.request((id) => `X ${id} ${timeoutMs} ${b64}\n`, replyTimeout, `command ${JSON.stringify(command.split('\n')[0])}`);
      if (f[0] !== 'R' || f.length < 4) throw agentError(`agent refused the command: ${decode(f[2]).toString('utf8')}`, this.node);
      return { exitCode: Number(f[2]), timedOut: f[3] === '1', stdout: decode(f[4]), stderr: decode(f[5]) };
    });
  }

  /** Resolves when the agent answers; rejects with E_AGENT after timeoutMs. */
  ping(timeoutMs = 5_000): Promise<void> {
    return this.enqueue(async () => {
      await this.request((id) => `P ${id}\n`, timeoutMs, 'ping');
    });
  }

  close(): void {
    this.fail('agent client closed');
    this.stream.destroy();
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private request(line: (id: string) => string, timeoutMs: number | undefined, what: string): Promise<string[]> {
    if (this.closedReason) return Promise.reject(agentError(`${this.closedReason} (${what})`, this.node));
    const id = String(this.nextId++);
    return new Promise<string[]>((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              if (this.pending?.id === id) this.pending = undefined;
              reject(agentError(`no reply from the guest agent within ${timeoutMs} ms (${what})`, this.node));
            }, timeoutMs);
      const done = () => timer && clearTimeout(timer);
      this.pending = {
        id,
        resolve: (f) => (done(), resolve(f)),
        reject: (e) => (done(), reject(new TopoError(`${e.message} (${what})`, { code: 'E_AGENT', node: this.node }))),
      };
      this.stream.write(line(id));
    });
  }

  private onData(chunk: Buffer): void {
    // Only the new chunk is searched; earlier chunks are known to hold no newline (no quadratic concat).
    let start = 0;
    for (let nl = chunk.indexOf(NL); nl !== -1; nl = chunk.indexOf(NL, start)) {
      this.chunks.push(chunk.subarray(start, nl));
      const line = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      this.chunks.length = 0;
      this.onLine(line.toString('latin1'));
      start = nl + 1;
    }
    if (start < chunk.length) this.chunks.push(chunk.subarray(start));
  }

  private onLine(line: string): void {
    const fields = line.split(' ');
    const p = this.pending;
    if (!p || fields[1] !== p.id) return;
    this.pending = undefined;
    p.resolve(fields);
  }

  private fail(reason: string): void {
    this.closedReason ??= reason;
    const p = this.pending;
    this.pending = undefined;
    p?.reject(new Error(reason));
  }
}
