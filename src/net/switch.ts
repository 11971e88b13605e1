// A learning Ethernet switch as a pure forwarding decision: (ingress port, frame) -> egress ports.

export interface SwitchOptions {
  ports: number;
  /** MAC table aging; 300 s like most switches' default. */
  agingMs?: number;
  /** Bound on learned MACs so a guest spraying random source MACs cannot grow memory without limit. */
  maxMacs?: number;
  now?: () => number;
}

export interface SwitchCounters {
  forwarded: number;
  flooded: number;
  /** Destination learned on the ingress port itself: a real switch filters these. */
  filtered: number;
  /** Shorter than an Ethernet header. */
  runts: number;
}

interface MacEntry {
  port: number;
  seen: number;
}

const ETH_HEADER = 14;

/** 48-bit MAC as a number: exact in a double and much cheaper than a string key. */
export function macAt(frame: Uint8Array, offset: number): number {
  return (
    (frame[offset]! * 0x10000 + frame[offset + 1]! * 0x100 + frame[offset + 2]!) * 0x1000000 +
    frame[offset + 3]! * 0x10000 + frame[offset + 4]! * 0x100 + frame[offset + 5]!
  );
}

export function macToString(mac: number): string {
  return mac.toString(16).padStart(12, '0').replace(/(..)(?!$)/g, '$1:');
}

export class LearningSwitch {
  readonly counters: SwitchCounters = { forwarded: 0, flooded: 0, filtered: 0, runts: 0 };
  private readonly table = new Map<number, MacEntry>();
  private readonly agingMs: number;
  private readonly maxMacs: number;
  private readonly now: () => number;
  /** Precomputed flood sets: every port but the ingress. */
  private readonly floodSets: readonly number[][];
  /** One shared array per port so unicast forwarding allocates nothing per frame. */
  private readonly unicastSets: readonly number[][];
  private static readonly NONE: readonly number[] = [];

  constructor(opts: SwitchOptions) {
    this.agingMs = opts.agingMs ?? 300_000;
    this.maxMacs = opts.maxMacs ?? 4096;
    this.now = opts.now ?? (() => performance.now());
    this.floodSets = Array.from({ length: opts.ports }, (_, ingress) =>
      Array.from({ length: opts.ports }, (_, p) => p).filter((p) => p !== ingress),
    );
    this.unicastSets = Array.from({ length: opts.ports }, (_, p) => [p]);
  }

  get ports(): number {
    return this.floodSets.length;
  }

  /** Egress ports for a frame; the returned array must not be mutated. */
  forward(ingress: number, frame: Uint8Array): readonly number[] {
    if (frame.length < ETH_HEADER) {
      this.counters.runts++;
      return LearningSwitch.NONE;
    }
    const now = this.now();
    // Group bit set on a source MAC is invalid; never learn it.
    if ((frame[6]! & 1) === 0) this.learn(macAt(frame, 6), ingress, now);
    if ((frame[0]! & 1) === 0) {
      const entry = this.table.get(macAt(frame, 0));
      if (entry !== undefined && now - entry.seen <= this.agingMs) {
        if (entry.port === ingress) {
          this.counters.filtered++;
          return LearningSwitch.NONE;
        }
        this.counters.forwarded++;
        return this.unicastSets[entry.port] ?? LearningSwitch.NONE;
      }
    }
    this.counters.flooded++;
    return this.floodSets[ingress] ?? LearningSwitch.NONE;
  }

  lookup(mac: number): number | undefined {
    const entry = this.table.get(mac);
    return entry !== undefined && this.now() - entry.seen <= this.agingMs ? entry.port : undefined;
  }

  /** Forget everything learned on a port, as a switch does when that port's link goes down. */
  flushPort(port: number): void {
    for (const [mac, e] of this.table) if (e.port === port) this.table.delete(mac);
  }

  get macCount(): number {
    return this.table.size;
  }

  private learn(mac: number, port: number, now: number): void {
    const entry = this.table.get(mac);
    if (entry !== undefined) {
      entry.port = port;
      entry.seen = now;
      return;
    }
    if (this.table.size >= this.maxMacs) {
      for (const [m, e] of this.table) if (now - e.seen > this.agingMs) this.table.delete(m);
      // Still full: keep forwarding by flooding rather than evicting live stations.
      if (this.table.size >= this.maxMacs) return;
    }
    this.table.set(mac, { port, seen: now });
  }
}
