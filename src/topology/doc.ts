// The document as written (after schema validation), plus the two pieces of logic that both the
// rules and resolve need: endpoint parsing and bare-endpoint interface assignment.

export type RawPort = number | string | { guest: number; host: number | 'auto'; protocol?: 'tcp' | 'udp'; bind?: string };
export type RawFwCfg = string | { file: string } | { string: string };
export type RawGuestFile = string | { file: string; mode?: string } | { string: string; mode?: string };
export interface RawShare {
  host: string;
  guest: string;
  writable?: boolean;
}
export type RawTpm = boolean | { state?: string; version?: 2; interface?: 'crb' | 'tis' };

export interface RawNode {
  kind?: 'microvm' | 'uefi';
  cpus?: number;
  memory?: number | string;
  kernel?: string;
  initrd?: string;
  cmdline?: string;
  console?: 'serial' | 'virtio';
  disk?: string;
  tpm?: RawTpm;
  firmware?: { code: string; vars: string };
  fw_cfg?: Record<string, RawFwCfg>;
  host_network?: boolean | { subnet: string };
  ports?: RawPort[];
  ready?: { console?: string; timeout?: number | string };
  run?: string[];
  depends_on?: string[];
  channels?: string[];
  restart?: 'never' | 'on-failure';
  persist?: boolean;
  allow_reboot?: boolean;
  packages?: string[];
  files?: Record<string, RawGuestFile>;
  shares?: RawShare[];
}

export interface RawLink {
  endpoints: string[];
  addresses?: string[];
  mtu?: number;
  capture?: boolean;
  forward?: boolean;
  impair?: Partial<Record<'delay' | 'jitter' | 'loss' | 'rate' | 'duplicate' | 'reorder' | 'corrupt', number | string>>;
}

export interface RawTopology {
  name: string;
  seed?: number;
  defaults?: RawNode;
  nodes: Record<string, RawNode>;
  links?: RawLink[];
}

export const MAX_IFACE = 63;

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Shallow merge: a node's own field replaces the default wholesale (ready, fw_cfg included), except `packages`: the lists add up. */
export function mergeNode(defaults: unknown, node: unknown): Record<string, unknown> {
  const d = isRecord(defaults) ? defaults : {};
  const n = isRecord(node) ? node : {};
  const merged = { ...d, ...n };
  if (Array.isArray(d.packages) && Array.isArray(n.packages)) merged.packages = [...new Set([...d.packages, ...n.packages])];
  return merged;
}

export interface ParsedEndpoint {
  node: string;
  /** Interface name as written ("eth1"); undefined for a bare node name. */
  iface?: string;
  /** N of ethN; undefined for bare names or names that are not ethN. */
  index?: number;
}

export function parseEndpoint(s: string): ParsedEndpoint {
  const colon = s.indexOf(':');
  if (colon < 0) return { node: s };
  const iface = s.slice(colon + 1);
  const m = /^eth(0|[1-9][0-9]*)$/.exec(iface);
  return { node: s.slice(0, colon), iface, index: m ? Number(m[1]) : undefined };
}

export interface Assigned {
  node: string;
  iface: string;
  index: number;
}

export interface Assignment {
  /** [link][endpoint]; undefined where the endpoint is unusable (unknown node, bad name, no free interface). */
  ends: (Assigned | undefined)[][];
  /** Bare endpoints for which no interface up to eth63 was left. */
  exhausted: { link: number; endpoint: number; node: string }[];
}

/**
 * Explicit ethN are reserved first (across all links); then bare endpoints, in file order, take their
 * node's lowest free index (eth1 up when eth0 is the host interface). Defensive about shape: rules call it unvalidated.
 */
export function assignInterfaces(hostNetwork: ReadonlyMap<string, boolean>, links: readonly unknown[]): Assignment {
  const used = new Map<string, Set<number>>();
  const next = new Map<string, number>();
  for (const [node, host] of hostNetwork) {
    used.set(node, new Set(host ? [0] : []));
    next.set(node, 0);
  }
  const parsed = links.map((l) =>
    isRecord(l) && Array.isArray(l.endpoints) ? l.endpoints.map((e) => (typeof e === 'string' ? parseEndpoint(e) : undefined)) : [],
  );
  for (const eps of parsed) {
    for (const ep of eps) if (ep?.index !== undefined) used.get(ep.node)?.add(ep.index);
  }
  const out: Assignment = { ends: [], exhausted: [] };
  parsed.forEach((eps, li) => {
    out.ends.push(
      eps.map((ep, ei) => {
        if (!ep) return undefined;
        const taken = used.get(ep.node);
        if (!taken) return undefined;
        if (ep.iface !== undefined) return ep.index === undefined ? undefined : { node: ep.node, iface: ep.iface, index: ep.index };
        // A cursor per node keeps this linear: indexes below it are taken already.
        let i = next.get(ep.node) ?? 0;
        while (i <= MAX_IFACE && taken.has(i)) i++;
        next.set(ep.node, i);
        if (i > MAX_IFACE) {
          out.exhausted.push({ link: li, endpoint: ei, node: ep.node });
          return undefined;
        }
        taken.add(i);
        return { node: ep.node, iface: `eth${i}`, index: i };
      }),
    );
  });
  return out;
}
