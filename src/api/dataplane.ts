// The data plane as the lab interface shows it: impairment state and per-endpoint counters.
import type { Impairment } from '../topology/model.js';

export type Direction = 'both' | 'out' | 'in';

export interface ImpairOptions {
  /** Relative to the endpoint named: `out` = frames it sends, `in` = frames it receives. Default both. */
  direction?: Direction;
}

export interface ImpairmentStatus {
  readonly link: string;
  /** Frames travelling towards this endpoint get `impair`. */
  readonly to: string;
  readonly impair?: Impairment;
}

export interface LinkCounters {
  readonly endpoint: string;
  readonly rx: { frames: number; bytes: number };
  readonly tx: { frames: number; bytes: number };
  readonly drops: { loss: number; queue: number; malformed: number; oversize: number; down: number; disconnected: number };
}
