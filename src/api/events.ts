// Supervisor events: the only thing UIs, JSON output and the library API see of the engine.
import type { TopoError } from '../errors.js';

export type NodeState =
  | 'waiting' // for depends_on or a free boot slot
  | 'starting' // spawning QEMU
  | 'booting' // QEMU up, waiting for the ready line
  | 'ready'
  | 'restarting'
  | 'failed'
  | 'stopping'
  | 'stopped';

export interface NodeEvent {
  type: 'node';
  node: string;
  state: NodeState;
  /** ms since the lab started */
  at: number;
  /** Time from QEMU start to ready, for state 'ready'. */
  readyMs?: number;
  pid?: number;
  detail?: string;
  error?: TopoError;
}

export interface LabEvent {
  type: 'lab';
  state: 'preparing' | 'starting' | 'ready' | 'stopping' | 'stopped' | 'failed';
  at: number;
  detail?: string;
  error?: TopoError;
}

export interface ConsoleEvent {
  type: 'console';
  node: string;
  line: string;
}

export interface NoticeEvent {
  type: 'notice';
  message: string;
}

export interface LinkEvent {
  type: 'link';
  link: string;
  state: 'up' | 'down';
  at: number;
}

/**
 * A control operation the lab received (`topo exec/link/impair/cp/restart...` from the CLI or the library), with its
 * result: the journal's record of hand work, which `topo bundle` turns into scenario steps.
 */
export interface OpEvent {
  type: 'op';
  op: 'exec' | 'link' | 'impair' | 'node' | 'cp' | 'console';
  node?: string;
  /** How long the operation took. */
  ms: number;
  cmd?: string | readonly string[];
  timeoutMs?: number;
  /** An exec's stdin as text (when it was UTF-8 and small), else only its size. */
  stdin?: string;
  stdinBytes?: number;
  exit?: number;
  timedOut?: boolean;
  /** Bounded tails of what an exec printed. */
  stdout?: string;
  stderr?: string;
  endpoint?: string;
  state?: 'up' | 'down';
  spec?: Record<string, string | number>;
  clear?: boolean;
  direction?: 'both' | 'out' | 'in';
  action?: string;
  /** cp: `NODE:/path` on the guest side, and the host side as the run directory keeps it (`recorded/...`). */
  from?: string;
  to?: string;
  file?: string;
  bytes?: number;
  error?: { code: string; message: string };
}

export type SupervisorEvent = NodeEvent | LabEvent | ConsoleEvent | NoticeEvent | LinkEvent | OpEvent;
