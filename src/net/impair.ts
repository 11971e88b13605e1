// One direction of an impaired link: netem-like loss/duplicate/corrupt/reorder, then rate and delay.

import type { Impairment } from '../topology/model.js';
import { realClock, type Clock, type TimerHandle } from './clock.js';
import { Deque } from './deque.js';
import { rngFor } from './rng.js';

export interface ImpairStats {
  in: number;
  out: number;
  lost: number;
  duplicated: number;
  corrupted: number;
  reordered: number;
  /** Dropped because the rate-limit backlog or the delay line was full. */
  queueDrops: number;
  queuedFrames: number;
  queuedBytes: number;
}

export interface ImpairerOptions {
  impairment: Impairment;
  /** Any string; see impairSeed(). Each impairment kind draws from its own stream of it. */
  seed: string;
  deliver: (frame: Buffer) => void;
  clock?: Clock;
  /** Frames waiting for the rate limiter beyond which new ones drop (netem's default limit). */
  maxBacklogFrames?: number;
  /** Bytes held in the delay line beyond which new frames drop. */
  maxQueueBytes?: number;
  /** How long a reorder-held frame waits for a successor before it goes out alone. */
  reorderHoldMs?: number;
}

interface Pending {
  frame: Buffer;
  at: number;
}

/** No impairment at all: frames pass straight through. */
export const NO_IMPAIRMENT: Impairment = Object.freeze({
  delayMs: 0, jitterMs: 0, lossPct: 0, rateBps: 0, duplicatePct: 0, reorderPct: 0, corruptPct: 0,
});

const PCT_FIELDS = ['lossPct', 'duplicatePct', 'reorderPct', 'corruptPct'] as const;
const NUM_FIELDS = ['delayMs', 'jitterMs', 'rateBps', ...PCT_FIELDS] as const;

/** What is wrong with an impairment given at run time, or null when it is usable. */
export function impairmentProblem(i: Impairment): string | null {
  for (const k of NUM_FIELDS) {
    const v: unknown = i[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) return `${k} must be a number >= 0, got ${String(v)}`;
  }
  for (const k of PCT_FIELDS) if (i[k] > 100) return `${k} must be a percentage from 0 to 100, got ${i[k]}`;
  return null;
}

export function hasImpairment(i: Impairment | undefined): i is Impairment {
  return (
    i !== undefined &&
    (i.delayMs > 0 || i.jitterMs > 0 || i.lossPct > 0 || i.rateBps > 0 ||
      i.duplicatePct > 0 || i.reorderPct > 0 || i.corruptPct > 0)
  );
}

export class Impairer {
  private readonly st: ImpairStats = {
    in: 0, out: 0, lost: 0, duplicated: 0, corrupted: 0, reordered: 0, queueDrops: 0,
    queuedFrames: 0, queuedBytes: 0,
  };
  private imp: Impairment;
  /** Settings impair nothing: once the queue is empty frames skip the machinery (and the clock). */
  private passThrough: boolean;
  private readonly clock: Clock;
  private readonly deliver: (frame: Buffer) => void;
  private readonly maxBacklog: number;
  private readonly maxQueueBytes: number;
  private readonly holdMs: number;
  // Independent streams so enabling one impairment does not shift another's decisions.
  private readonly rLoss: () => number;
  private readonly rDup: () => number;
  private readonly rCorrupt: () => number;
  private readonly rReorder: () => number;
  private readonly rJitter: () => number;

  private readonly queue = new Deque<Pending>();
  /** Serialization end times of frames still on the "wire", to bound the rate backlog in frames. */
  private readonly txEnds = new Deque<number>();
  private lastTxEnd = -Infinity;
  private lastDeparture = -Infinity;
  private timer: TimerHandle | null = null;
  private held: Buffer | null = null;
  private holdTimer: TimerHandle | null = null;
  private closed = false;

  constructor(opts: ImpairerOptions) {
    this.imp = opts.impairment;
    this.passThrough = !hasImpairment(this.imp);
    this.clock = opts.clock ?? realClock;
    this.deliver = opts.deliver;
    this.maxBacklog = opts.maxBacklogFrames ?? 1000;
    this.maxQueueBytes = opts.maxQueueBytes ?? 32 << 20;
    this.holdMs = opts.reorderHoldMs ?? 5;
    this.rLoss = rngFor(`${opts.seed}/loss`);
    this.rDup = rngFor(`${opts.seed}/duplicate`);
    this.rCorrupt = rngFor(`${opts.seed}/corrupt`);
    this.rReorder = rngFor(`${opts.seed}/reorder`);
    this.rJitter = rngFor(`${opts.seed}/jitter`);
  }

  stats(): ImpairStats {
    return { ...this.st };
  }

  get impairment(): Impairment {
    return this.imp;
  }

  /**
   * New settings for frames pushed from now on. Frames already in the delay line or the rate backlog keep their
   * departure times, and new frames never overtake them, so a change (or clearing: undefined) never drops or
   * reorders traffic already in flight. Random streams continue, so a replay with the same changes is identical.
   */
  setImpairment(imp: Impairment | undefined): void {
    this.imp = imp ?? NO_IMPAIRMENT;
    this.passThrough = !hasImpairment(this.imp);
  }

  push(frame: Buffer): void {
    if (this.closed) return;
    const imp = this.imp;
    this.st.in++;
    if (this.passThrough && this.queue.length === 0 && this.held === null) return this.emit(frame);
    if (imp.lossPct > 0 && this.rLoss() * 100 < imp.lossPct) {
      this.st.lost++;
      return;
    }
    const dup = imp.duplicatePct > 0 && this.rDup() * 100 < imp.duplicatePct;
    const first = this.maybeCorrupt(frame);
    if (this.held !== null) {
      const held = this.held;
      this.releaseHold();
      this.schedule(first);
      this.schedule(held);
    } else if (imp.reorderPct > 0 && this.rReorder() * 100 < imp.reorderPct) {
      this.st.reordered++;
      this.held = first;
      this.holdTimer = this.clock.setTimeout(() => {
        const h = this.held;
        this.releaseHold();
        if (h !== null) this.schedule(h);
      }, this.holdMs);
    } else {
      this.schedule(first);
    }
    if (dup) {
      this.st.duplicated++;
      this.schedule(this.maybeCorrupt(frame));
    }
  }

  /** Discards everything queued; later pushes are ignored. */
  close(): void {
    this.closed = true;
    this.releaseHold();
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.queue.clear();
    this.txEnds.clear();
    this.st.queuedFrames = 0;
    this.st.queuedBytes = 0;
  }

  private releaseHold(): void {
    if (this.holdTimer !== null) this.clock.clearTimeout(this.holdTimer);
    this.holdTimer = null;
    this.held = null;
  }

  private maybeCorrupt(frame: Buffer): Buffer {
    if (this.imp.corruptPct <= 0 || frame.length === 0) return frame;
    if (this.rCorrupt() * 100 >= this.imp.corruptPct) return frame;
    // Copy: the same frame may be flooded to other ports and captured untouched.
    const out = Buffer.from(frame);
    const bit = Math.floor(this.rCorrupt() * out.length * 8);
    out[bit >> 3]! ^= 1 << (bit & 7);
    this.st.corrupted++;
    return out;
  }

  private schedule(frame: Buffer): void {
    const imp = this.imp;
    if (this.st.queuedBytes + frame.length > this.maxQueueBytes) {
      this.st.queueDrops++;
      return;
    }
    const now = this.clock.now();
    let t = now;
    if (imp.rateBps > 0) {
      while (this.txEnds.length > 0 && this.txEnds.peek()! <= now) this.txEnds.shift();
      if (this.txEnds.length >= this.maxBacklog) {
        this.st.queueDrops++;
        return;
      }
      // Serialization model: a frame starts when the previous one has left the wire.
      t = Math.max(now, this.lastTxEnd) + (frame.length * 8 * 1000) / imp.rateBps;
      this.lastTxEnd = t;
      this.txEnds.push(t);
    }
    if (imp.delayMs > 0 || imp.jitterMs > 0) {
      const jitter = imp.jitterMs > 0 ? (this.rJitter() * 2 - 1) * imp.jitterMs : 0;
      t += Math.max(0, imp.delayMs + jitter);
    }
    // Jitter alone never reorders, as with netem's rate-based ordering.
    if (t < this.lastDeparture) t = this.lastDeparture;
    this.lastDeparture = t;
    if (t <= now && this.queue.length === 0) {
      this.emit(frame);
      return;
    }
    this.queue.push({ frame, at: t });
    this.st.queuedFrames++;
    this.st.queuedBytes += frame.length;
    if (this.timer === null) this.arm(now);
  }

  private arm(now: number): void {
    const head = this.queue.peek();
    if (head === undefined) return;
    this.timer = this.clock.setTimeout(() => this.fire(), head.at - now);
  }

  private fire(): void {
    this.timer = null;
    if (this.closed) return;
    const now = this.clock.now();
    for (let head = this.queue.peek(); head !== undefined && head.at <= now; head = this.queue.peek()) {
      this.queue.shift();
      this.st.queuedFrames--;
      this.st.queuedBytes -= head.frame.length;
      this.emit(head.frame);
    }
    this.arm(now);
  }

  private emit(frame: Buffer): void {
    this.st.out++;
    this.deliver(frame);
  }
}
