// Unit parsing for the topology format. Each parser returns undefined for input it cannot read,
// so rules can word their own error; resolve only calls them on validated input.
// Sizes and rates are hand-parsed: no well-kept library matches `256M` / `20mbit` exactly.
import ms from 'ms';

const SIZE = /^([0-9]+)([MG])$/;
const NUMBER_UNIT = /^([0-9]+(?:\.[0-9]+)?)([A-Za-z%]*)$/;

export const DURATION_UNITS = ['ms', 's', 'm', 'h'] as const;
export const RATE_UNITS: Readonly<Record<string, number>> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 };
export const MEMORY_MIN_MIB = 64;
export const MEMORY_MAX_MIB = 64 * 1024;

/** Size to MiB: an integer is MiB already; strings take M or G. */
export function parseSize(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = SIZE.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]);
  return m[2] === 'G' ? n * 1024 : n;
}

/** Split "40ms" into [40, "ms"]; undefined when the shape is not number + letters. */
export function splitUnit(v: string): [number, string] | undefined {
  const m = NUMBER_UNIT.exec(v);
  if (!m) return undefined;
  return [Number(m[1]), m[2] ?? ''];
}

/** Duration to ms: a bare integer (number or digits-only string) is seconds. */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.round(v * 1000) : undefined;
  if (typeof v !== 'string') return undefined;
  const parts = splitUnit(v);
  if (!parts) return undefined;
  const [n, unit] = parts;
  if (unit === '') return Math.round(n * 1000);
  if (!(DURATION_UNITS as readonly string[]).includes(unit)) return undefined;
  const out = ms(`${n}${unit}` as ms.StringValue);
  return typeof out === 'number' && Number.isFinite(out) ? Math.round(out) : undefined;
}

/** Percent 0..100 (with or without %); values over 100 are returned so rules can name them. */
export function parsePercent(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const parts = splitUnit(v);
  if (!parts || (parts[1] !== '' && parts[1] !== '%')) return undefined;
  return parts[0];
}

/** Rate to bits per second; decimal multipliers as tc uses them. A bare number is bits/s. */
export function parseRate(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.round(v) : undefined;
  if (typeof v !== 'string') return undefined;
  const parts = splitUnit(v);
  if (!parts) return undefined;
  const unit = parts[1].toLowerCase();
  // hasOwn: "20constructor" must not find Object.prototype.constructor.
  return Object.hasOwn(RATE_UNITS, unit) ? Math.round(parts[0] * (RATE_UNITS[unit] ?? 0)) : undefined;
}
