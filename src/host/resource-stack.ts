// What a lab holds, released once in reverse order of acquisition by whichever exit comes first.
// Node 20 has no AsyncDisposableStack (it arrives with explicit resource management in later V8s): this is the small part we need.

export type Release = () => Promise<unknown> | unknown;

export interface ReleaseError {
  name: string;
  error: unknown;
}

export class ResourceStack {
  private readonly entries: { name: string; release: Release }[] = [];
  private releasing?: Promise<ReleaseError[]>;

  /** @param onError told about each release that throws (the others still run). */
  constructor(private readonly onError?: (e: ReleaseError) => void) {}

  /** Registers `release` to run before everything registered earlier. Deferring onto a released stack releases at once. */
  defer(name: string, release: Release): void {
    if (this.releasing) {
      void this.releasing.then(() => runOne({ name, release }, this.onError));
      return;
    }
    this.entries.push({ name, release });
  }

  /** `value`, with its release registered (for one-line acquisition). */
  use<T>(name: string, value: T, release: (value: T) => Promise<unknown> | unknown): T {
    this.defer(name, () => release(value));
    return value;
  }

  get size(): number {
    return this.entries.length;
  }

  get released(): boolean {
    return this.releasing !== undefined;
  }

  /** Runs every release once, newest first, each after the previous settled; a throwing one is reported and skipped past. */
  release(): Promise<ReleaseError[]> {
    this.releasing ??= (async () => {
      const errors: ReleaseError[] = [];
      for (let e = this.entries.pop(); e; e = this.entries.pop()) {
        const failed = await runOne(e, this.onError);
        if (failed) errors.push(failed);
      }
      return errors;
    })();
    return this.releasing;
  }
}

async function runOne(e: { name: string; release: Release }, onError?: (e: ReleaseError) => void): Promise<ReleaseError | undefined> {
  try {
    await e.release();
    return undefined;
  } catch (error) {
    const failed = { name: e.name, error };
    onError?.(failed);
    return failed;
  }
}
