// Checks of single values (units, CIDRs, ports; patterns live in pattern.ts): each returns the problem in words, or undefined.
// Shared by the semantic rules and by the schema-error wording so both say the same thing.
import { isIP } from 'node:net';
import {
  DURATION_UNITS,
  MEMORY_MAX_MIB,
  MEMORY_MIN_MIB,
  RATE_UNITS,
  parseDuration,
  parsePercent,
  parseRate,
  parseSize,
  splitUnit,
} from './units.js';

export const SIZE_HINT = 'use an integer MiB or a string like 256M or 2G';
export const DURATION_HINT = 'use e.g. 500ms, 2s or 1m (a bare integer is seconds)';
export const RATE_HINT = 'use e.g. 500kbit, 20mbit or 1gbit';
export const PERCENT_HINT = 'use a number from 0 to 100, e.g. 0.5 or "0.5%"';

export function sizeProblem(v: unknown): string | undefined {
  const mib = parseSize(v);
  if (mib === undefined) return `not a size; ${SIZE_HINT}`;
  if (mib < MEMORY_MIN_MIB || mib > MEMORY_MAX_MIB) return `out of range; memory must be between 64M and 64G`;
  return undefined;
}

export function durationProblem(v: unknown): string | undefined {
  if (parseDuration(v) !== undefined) return undefined;
  const parts = typeof v === 'string' ? splitUnit(v) : undefined;
  if (parts && parts[1] !== '') return `unknown duration unit "${parts[1]}"; use ${DURATION_UNITS.join(', ')} (e.g. 500ms, 2s, 1m)`;
  return `not a duration; ${DURATION_HINT}`;
}

export function rateProblem(v: unknown): string | undefined {
  if (parseRate(v) !== undefined) return undefined;
  const parts = typeof v === 'string' ? splitUnit(v) : undefined;
  if (parts && parts[1] !== '') return `unknown rate unit "${parts[1]}"; use ${Object.keys(RATE_UNITS).join(', ')} (e.g. 20mbit)`;
  return `not a rate; ${RATE_HINT}`;
}

export function percentProblem(v: unknown): string | undefined {
  const p = parsePercent(v);
  if (p === undefined) return `not a percentage; ${PERCENT_HINT}`;
  if (p > 100) return `${p}% is over 100; a percentage is 0 to 100`;
  return undefined;
}

/** IPv4 or IPv6 CIDR. Returns the family, or the problem. */
export function checkCidr(v: unknown): { family: 4 | 6 } | { problem: string } {
  if (typeof v !== 'string') return { problem: 'not an address; use a CIDR string like 10.0.12.1/24' };
  const slash = v.indexOf('/');
  if (slash < 0) return { problem: `missing prefix length; write it as CIDR, e.g. ${v}/24` };
  const addr = v.slice(0, slash);
  const prefix = v.slice(slash + 1);
  const family = addr.includes('%') ? 0 : isIP(addr);
  if (family !== 4 && family !== 6) return { problem: `"${addr}" is not an IPv4 or IPv6 address; use a CIDR like 10.0.12.1/24 or fd00::1/64` };
  const max = family === 4 ? 32 : 128;
  if (!/^[0-9]{1,3}$/.test(prefix) || Number(prefix) > max) {
    return { problem: `prefix /${prefix} is out of range for IPv${family}; use 0..${max}` };
  }
  return { family };
}

export interface PortSpec {
  guest: number;
  host: number | 'auto';
  protocol: 'tcp' | 'udp';
  bind?: string;
}

/** Any port form to its parts; problem when the form or a number is wrong. */
export function parsePort(v: unknown): PortSpec | { problem: string } {
  const inRange = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
  if (typeof v === 'number') return inRange(v) ? { guest: v, host: v, protocol: 'tcp' } : { problem: `port ${v} is out of range; use 1..65535` };
  if (typeof v === 'string') {
    const m = /^([0-9]{1,5}):([0-9]{1,5})(?:\/(tcp|udp))?$/.exec(v);
    if (!m) return { problem: 'not a port forward; write "HOST:GUEST" (optionally "/udp"), a port number, or {guest, host}' };
    const host = Number(m[1]);
    const guest = Number(m[2]);
    for (const n of [host, guest]) if (!inRange(n)) return { problem: `port ${n} is out of range; use 1..65535` };
    return { guest, host, protocol: m[3] === 'udp' ? 'udp' : 'tcp' };
  }
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    if (!inRange(o.guest)) return { problem: 'guest must be a port number 1..65535' };
    if (o.host !== 'auto' && !inRange(o.host)) return { problem: 'host must be a port number 1..65535 or "auto"' };
    const spec: PortSpec = { guest: o.guest, host: o.host as number | 'auto', protocol: o.protocol === 'udp' ? 'udp' : 'tcp' };
    if (typeof o.bind === 'string') spec.bind = o.bind;
    return spec;
  }
  return { problem: 'not a port forward; write a port number, "HOST:GUEST" or {guest, host}' };
}

/** IPv4 dotted quad. */
export function ipv4ToInt(a: string): number | undefined {
  if (isIP(a) !== 4) return undefined;
  return a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

export function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** The host interface's user-mode network (e.g. 10.42.0.0/24): the network and prefix, or the problem. */
export function subnetProblem(v: string): string | undefined {
  const [addr = '', prefix = ''] = v.split('/');
  const base = ipv4ToInt(addr);
  if (base === undefined || !/^[0-9]{1,2}$/.test(prefix)) return 'not an IPv4 network; write it like 10.42.0.0/24';
  const len = Number(prefix);
  if (len < 8 || len > 27) return `prefix /${len} is out of range; use /8../27 (the guest takes .15 of the network)`;
  const size = 2 ** (32 - len);
  if (base % size !== 0) return `host bits are set; write the network address, ${intToIpv4(base - (base % size))}/${len}`;
  return undefined;
}

/** True when two IPv4 CIDRs share any address. */
export function ipv4Overlap(a: string, b: string): boolean {
  const range = (c: string) => {
    const [addr = '', p = '32'] = c.split('/');
    const ip = ipv4ToInt(addr) ?? 0;
    const size = 2 ** (32 - Number(p));
    const start = ip - (ip % size);
    return [start, start + size - 1] as const;
  };
  const [a0, a1] = range(a);
  const [b0, b1] = range(b);
  return a0 <= b1 && b0 <= a1;
}

/** The user-mode network's guest address, gateway and DNS as SLIRP hands them out (.15, .2, .3). */
export function slirpAddresses(subnet: string): { address: string; gateway: string; dns: string } {
  const [addr = '', prefix = '24'] = subnet.split('/');
  const base = ipv4ToInt(addr) ?? 0;
  return { address: `${intToIpv4(base + 15)}/${prefix}`, gateway: intToIpv4(base + 2), dns: intToIpv4(base + 3) };
}
