// Exec options as both lab implementations take them: one normalisation (timeout aliases, stdin as bytes, limits).
import { checkExecLimits, shellQuote } from '../guest/agent-client.js';

/** The guest-side limit when none is given (0 means none). */
export const DEFAULT_EXEC_TIMEOUT_MS = 300_000;

export interface ExecOptions {
  /** Guest-side limit in ms (0: none); the command's whole process group is killed then. Default 300 s. */
  timeout?: number;
  /** @deprecated use `timeout` */
  timeoutMs?: number;
  stdin?: Buffer | string;
  /** Aborting kills the command in the guest. */
  signal?: AbortSignal;
  /** Bytes of stdout and stderr together, 64 MiB at most (the default); more fails with E_OUTPUT_LIMIT. */
  maxOutput?: number;
}

export interface NormalExecOptions {
  /** The timeout the caller asked for (undefined: none asked, the lab's default applies). */
  readonly asked?: number;
  /** The guest-side limit in ms that applies (0: none). */
  readonly timeoutMs: number;
  readonly stdin?: Buffer;
  readonly signal?: AbortSignal;
  readonly maxOutput?: number;
}

/** Checked here, before megabytes travel anywhere: a timeout over 24 days is E_BAD_REQUEST, stdin over 64 MiB E_TOO_LARGE. */
export function normalizeExecOptions(opts: ExecOptions = {}, node?: string): NormalExecOptions {
  const stdin = typeof opts.stdin === 'string' ? Buffer.from(opts.stdin) : opts.stdin;
  const asked = opts.timeout ?? opts.timeoutMs;
  checkExecLimits(asked, { stdin }, node);
  return { asked, timeoutMs: asked ?? DEFAULT_EXEC_TIMEOUT_MS, stdin, signal: opts.signal, maxOutput: opts.maxOutput };
}

/** The command as the guest's shell runs it: a string as typed, an argv quoted word by word. */
export function commandLine(cmd: string | readonly string[]): string {
  return typeof cmd === 'string' ? cmd : shellQuote(cmd);
}
