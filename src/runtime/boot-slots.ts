// How many nodes boot at once. Under TCG a boot is CPU-bound and costs more CPU the more boots share the
// caches, so the fewest concurrent boots that keep every core busy win: start with one per core and open
// another slot only while the host measurably has an idle core (a boot waiting on a timer or I/O).
import os from 'node:os';

export interface BootSlots {
  take(): Promise<void>;
  release(): void;
  /** Stops sampling and lets every waiter through (the supervisor is stopping: its boots check that first). */
  close(): void;
  /** The current limit (for events and benchmarks). */
  readonly limit: number;
}

/** Idle fraction of all cores since the previous call (0..1); the first call measures since process start. */
export type IdleSampler = () => number;

export function hostIdleSampler(): IdleSampler {
  const read = () => os.cpus().reduce((a, c) => ({ idle: a.idle + c.times.idle, total: a.total + c.times.idle + c.times.user + c.times.nice + c.times.sys + c.times.irq }), { idle: 0, total: 0 });
  let prev = read();
  return () => {
    const now = read();
    const total = now.total - prev.total;
    const idle = total > 0 ? (now.idle - prev.idle) / total : 0;
    prev = now;
    return idle;
  };
}

class Gate implements BootSlots {
  protected inUse = 0;
  protected readonly waiters: (() => void)[] = [];
  constructor(public limit: number) {}

  take(): Promise<void> {
    if (this.inUse < this.limit) {
      this.inUse++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    this.inUse--;
    this.admit();
  }

  protected admit(): void {
    while (this.inUse < this.limit && this.waiters.length > 0) {
      this.inUse++;
      this.waiters.shift()!();
    }
  }

  close(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** `--jobs N`: exactly N at once. */
export function fixedSlots(n: number): BootSlots {
  return new Gate(Math.max(1, n));
}

export interface AdaptiveOptions {
  cores?: number;
  /** Upper bound whatever the measurements say. */
  max?: number;
  intervalMs?: number;
  sampler?: IdleSampler;
}

/** One slot per core; every interval, one more while at least half a core sat idle, one fewer (not below the cores) when none did. */
export class AdaptiveSlots extends Gate {
  private timer?: NodeJS.Timeout;
  private readonly cores: number;
  private readonly max: number;
  private readonly intervalMs: number;
  private readonly sampler: IdleSampler;

  constructor(opts: AdaptiveOptions = {}) {
    const cores = opts.cores ?? os.availableParallelism();
    super(cores);
    this.cores = cores;
    this.max = opts.max ?? cores * 8;
    this.intervalMs = opts.intervalMs ?? 250;
    this.sampler = opts.sampler ?? hostIdleSampler();
  }

  override take(): Promise<void> {
    const p = super.take();
    if (this.waiters.length > 0 && !this.timer) {
      this.sampler(); // the next sample covers only the time boots were waiting
      this.timer = setInterval(() => this.adjust(), this.intervalMs);
      this.timer.unref();
    }
    return p;
  }

  private adjust(): void {
    if (this.waiters.length === 0) return this.stopSampling();
    const idleCores = this.sampler() * this.cores;
    if (idleCores >= 0.5 && this.limit < this.max) this.limit++;
    else if (idleCores < 0.1 && this.limit > this.cores) this.limit--;
    this.admit();
  }

  private stopSampling(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  override close(): void {
    this.stopSampling();
    super.close();
  }
}
