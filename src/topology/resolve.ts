// Validated document -> the immutable ResolvedTopology every later phase consumes. Pure: no I/O.
import path from 'node:path';
import { parseImpairment } from './impairment.js';
import { assignInterfaces, mergeNode, type RawGuestFile, type RawLink, type RawNode, type RawTopology } from './doc.js';
import { macFor } from './mac.js';
import type { FwCfgEntry, GuestFile, LinkEndpoint, PortForward, ResolvedInterface, ResolvedLink, ResolvedNode, ResolvedTopology } from './model.js';
import { parseDuration, parseSize } from './units.js';
import { parsePort } from './values.js';

export const DEFAULT_MTU = 1500;
export const DEFAULT_MEMORY_MIB = { microvm: 256, uefi: 512 } as const;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Call only on a document that passed the schema and the rules; the result is deep-frozen.
 * `file` is the topology file: relative paths resolve against its directory.
 */
export function resolveTopology(doc: RawTopology, file: string): ResolvedTopology {
  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  const lab = doc.name;
  const rawLinks: RawLink[] = doc.links ?? [];
  const names = Object.keys(doc.nodes);
  const merged = new Map(names.map((n) => [n, mergeNode(doc.defaults, doc.nodes[n]) as RawNode]));
  const hostNetwork = new Map(names.map((n) => [n, merged.get(n)?.host_network !== false]));
  const { ends } = assignInterfaces(hostNetwork, rawLinks);

  const ifaces = new Map<string, ResolvedInterface[]>(names.map((n) => [n, []]));
  const links: ResolvedLink[] = rawLinks.map((raw, li) => {
    const id = `l${li + 1}`;
    const mtu = raw.mtu ?? DEFAULT_MTU;
    const endpoints: LinkEndpoint[] = (ends[li] ?? []).map((a, ei) => {
      if (!a) throw new Error(`resolve: link ${li + 1} endpoint ${ei + 1} is unusable; validate first`);
      const mac = macFor(lab, a.node, a.iface);
      const address = raw.addresses?.[ei];
      ifaces.get(a.node)?.push({ name: a.iface, index: a.index, mac, kind: 'link', link: id, mtu, addresses: address ? [address] : [] });
      return address === undefined ? { node: a.node, iface: a.iface, mac } : { node: a.node, iface: a.iface, mac, address };
    });
    const link: Mutable<ResolvedLink> = {
      id,
      index: li,
      kind: endpoints.length > 2 ? 'segment' : 'p2p',
      endpoints,
      mtu,
      capture: raw.capture ?? false,
    };
    if (raw.impair) link.impair = parseImpairment(raw.impair);
    if (raw.forward) link.forward = true;
    return link;
  });

  const nodes = names.map((name) => resolveNode(name, merged.get(name) ?? {}, dir, lab, ifaces.get(name) ?? []));
  return deepFreeze({ name: lab, file: abs, dir, nodes, links, ...(doc.seed === undefined ? {} : { seed: doc.seed }) });
}

function resolveNode(name: string, n: RawNode, dir: string, lab: string, linkIfaces: ResolvedInterface[]): ResolvedNode {
  const kind = n.kind ?? 'microvm';
  const hostNetwork = n.host_network !== false;
  const abs = (p: string | undefined) => (p === undefined ? undefined : path.resolve(dir, p));
  const interfaces = hostNetwork
    ? [{ name: 'eth0', index: 0, mac: macFor(lab, name, 'eth0'), kind: 'host' as const, mtu: DEFAULT_MTU, addresses: [] }, ...linkIfaces]
    : [...linkIfaces];
  interfaces.sort((a, b) => a.index - b.index);
  const ready: { console?: string; timeoutMs?: number } = {};
  if (n.ready?.console !== undefined) ready.console = n.ready.console;
  if (n.ready?.timeout !== undefined) ready.timeoutMs = parseDuration(n.ready.timeout);
  const node: Mutable<ResolvedNode> = {
    name,
    kind,
    cpus: n.cpus ?? 1,
    memoryMiB: n.memory === undefined ? DEFAULT_MEMORY_MIB[kind] : (parseSize(n.memory) ?? DEFAULT_MEMORY_MIB[kind]),
    console: n.console ?? 'serial',
    fwCfg: Object.entries(n.fw_cfg ?? {}).map(([fwName, v]): FwCfgEntry => {
      if (typeof v === 'string') return { name: fwName, file: path.resolve(dir, v) };
      return 'file' in v ? { name: fwName, file: path.resolve(dir, v.file) } : { name: fwName, string: v.string };
    }),
    hostNetwork,
    allowReboot: n.allow_reboot ?? false,
    ports: (n.ports ?? []).flatMap((p): PortForward[] => {
      const spec = parsePort(p);
      if ('problem' in spec) return [];
      const { bind, ...rest } = spec;
      return [bind === undefined ? rest : { ...rest, bind }];
    }),
    ready,
    run: [...(n.run ?? [])],
    dependsOn: [...(n.depends_on ?? [])],
    channels: [...(n.channels ?? [])],
    restart: n.restart ?? 'never',
    persist: n.persist ?? false,
    interfaces,
  };
  // Optional fields stay absent rather than undefined so deep equality and JSON output stay clean.
  const kernel = abs(n.kernel);
  const initrd = abs(n.initrd);
  const disk = abs(n.disk);
  if (kernel !== undefined) node.kernel = kernel;
  if (initrd !== undefined) node.initrd = initrd;
  if (n.cmdline !== undefined) node.cmdline = n.cmdline;
  if (disk !== undefined) node.disk = disk;
  if (n.tpm !== undefined && n.tpm !== false) {
    const spec = n.tpm === true ? {} : n.tpm;
    node.tpm = spec.state === undefined ? { interface: spec.interface ?? 'crb' } : { state: path.resolve(dir, spec.state), interface: spec.interface ?? 'crb' };
  }
  if (n.firmware) node.firmware = { code: path.resolve(dir, n.firmware.code), vars: path.resolve(dir, n.firmware.vars) };
  if (typeof n.host_network === 'object') node.hostSubnet = n.host_network.subnet;
  if (n.packages && n.packages.length > 0) node.packages = [...n.packages];
  const files = Object.entries(n.files ?? {});
  if (files.length > 0) node.files = files.map(([p, v]) => guestFile(p, v, dir));
  if (n.shares && n.shares.length > 0) node.shares = n.shares.map((s) => ({ host: path.resolve(dir, s.host), guest: s.guest, writable: s.writable ?? false }));
  return node;
}

function guestFile(p: string, v: RawGuestFile, dir: string): GuestFile {
  if (typeof v === 'string') return { path: p, source: { file: path.resolve(dir, v) } };
  const source = 'file' in v ? { file: path.resolve(dir, v.file) } : { string: v.string };
  return v.mode === undefined ? { path: p, source } : { path: p, source, mode: Number.parseInt(v.mode, 8) };
}

export function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}
