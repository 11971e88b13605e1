// topo's own bundles must replay under the caps a replay enforces (UNPACK_LIMITS): console logs (64 MiB a node) and
// pcaps (unbounded) share what is left after the files a replay needs, fairly, each cut where it stays readable.
import type { UnpackLimits } from './unpack.js';

/** Room kept below the byte cap for the manifest, tar headers and padding. */
export const BUDGET_HEADROOM = 16 * 1024 * 1024;
/** Entries kept below the entry cap for the members written after the shared ones (manifest, versions). */
export const ENTRY_HEADROOM = 16;

/** Fair shares of `budget` (water-filling): small files whole, the rest split evenly among the large ones. */
export function shares(sizes: readonly number[], budget: number): number[] {
  const out = sizes.map(() => 0);
  let left = Math.max(0, budget);
  const order = sizes.map((s, i) => [s, i] as const).sort((a, b) => a[0] - b[0]);
  order.forEach(([size, i], k) => {
    const fair = Math.floor(left / (order.length - k));
    out[i] = Math.min(size, fair);
    left -= out[i] as number;
  });
  return out;
}

/** The last `max` bytes of a console log, after a line saying what was left out. */
export function logTail(data: Buffer, max: number): Buffer {
  if (data.length <= max) return data;
  const note = Buffer.from(`[topo: the first ${data.length - max} bytes of this log were left out to fit the bundle]\n`);
  return Buffer.concat([note, data.subarray(data.length - Math.max(0, max - note.length))]);
}

/** The first whole records of a pcap (or blocks of a pcapng) within `max` bytes: a valid, shorter capture. */
export function captureHead(data: Buffer, max: number): Buffer {
  if (data.length <= max) return data;
  const pcapng = data.length >= 12 && data.readUInt32LE(0) === 0x0a0d0d0a;
  const le = pcapng ? data.readUInt32LE(8) === 0x1a2b3c4d : data.length >= 4 && [0xa1b2c3d4, 0xa1b23c4d].includes(data.readUInt32LE(0));
  const u32 = (at: number) => (le ? data.readUInt32LE(at) : data.readUInt32BE(at));
  let end = pcapng ? 0 : 24;
  if (end > max) return Buffer.alloc(0);
  for (;;) {
    if (end + (pcapng ? 12 : 16) > data.length) break;
    const next = pcapng ? end + u32(end + 4) : end + 16 + u32(end + 8);
    if (next <= end || next > max || next > data.length) break;
    end = next;
  }
  return data.subarray(0, end);
}

export interface Shared {
  /** Member name in the bundle. */
  name: string;
  data: Buffer;
  kind: 'log' | 'capture' | 'collected';
}

export interface Fitted {
  members: { name: string; data: Buffer }[];
  /** Members cut to fit: their original and kept sizes. */
  truncated: Record<string, { size: number; kept: number }>;
  /** Members left out because the entry cap was reached. */
  omitted: string[];
}

/** Fit the shared members into what the caps leave after `used` bytes and `count` entries. */
export function fitShared(items: readonly Shared[], used: { bytes: number; entries: number }, limits: UnpackLimits): Fitted {
  const room = Math.max(0, limits.entries - ENTRY_HEADROOM - used.entries);
  // Captures go first when entries run short: logs and collected files say more about a failure.
  const order = [...items].sort((a, b) => Number(a.kind === 'capture') - Number(b.kind === 'capture'));
  const kept = order.slice(0, room);
  const omitted = order.slice(room).map((i) => i.name);
  const share = shares(kept.map((i) => i.data.length), limits.bytes - BUDGET_HEADROOM - used.bytes);
  const truncated: Fitted['truncated'] = {};
  const members = kept.map((item, i) => {
    const max = share[i] ?? 0;
    const data = item.kind === 'capture' ? captureHead(item.data, max) : item.kind === 'log' ? logTail(item.data, max) : item.data.subarray(0, max);
    if (data.length !== item.data.length) truncated[item.name] = { size: item.data.length, kept: data.length };
    return { name: item.name, data };
  });
  return { members, truncated, omitted };
}
