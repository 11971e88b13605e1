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

export type SupervisorEvent = NodeEvent | LabEvent | ConsoleEvent | NoticeEvent | LinkEvent;
