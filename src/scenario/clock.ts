// The scenario's clock: its timeout counts running time only; a pause (--pause-on-failure) stops it.

export class ScenarioClock {
  private timer: NodeJS.Timeout | undefined;
  private pausedAt: number | undefined;
  private pausedTotal = 0;
  private expired = false;
  readonly startedAt: number;

  /** `onExpire` runs once, when `timeoutMs` of running (unpaused) time have passed. */
  constructor(
    private readonly timeoutMs: number,
    private readonly onExpire: () => void,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now();
    this.arm();
  }

  /** Epoch ms when the time is up, were the clock to run on from now. */
  deadline(): number {
    return this.startedAt + this.timeoutMs + this.pausedMs();
  }

  /** Running time so far, pauses excluded. */
  elapsedMs(): number {
    return this.now() - this.startedAt - this.pausedMs();
  }

  pausedMs(): number {
    return this.pausedTotal + (this.pausedAt === undefined ? 0 : this.now() - this.pausedAt);
  }

  pause(): void {
    if (this.pausedAt !== undefined || this.timer === undefined) return;
    this.pausedAt = this.now();
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  resume(): void {
    if (this.pausedAt === undefined) return;
    this.pausedTotal += this.now() - this.pausedAt;
    this.pausedAt = undefined;
    this.arm();
  }

  /** Done: no expiry from now on; the pause so far is counted. */
  stop(): void {
    this.expired = true;
    this.resume();
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    if (this.expired) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.expired = true;
      this.onExpire();
    }, Math.max(0, this.deadline() - this.now()));
  }
}
