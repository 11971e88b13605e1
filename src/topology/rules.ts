// Semantic rules: what a schema cannot say (cross references, cycles, kinds, files, units).
// They run on the raw document even when the schema failed, so every access is defensive.
import { isIP } from 'node:net';
import path from 'node:path';
import { Graph, alg } from '@dagrejs/graphlib';
import { describePath, pointer, subject, suggest, type Issue } from './diagnostics.js';
import { MAX_IFACE, assignInterfaces, isRecord, mergeNode, parseEndpoint } from './doc.js';
import { CMDLINE_RESERVE, KERNEL_CMDLINE_SIZE, MAX_USER_CMDLINE, RESERVED_FW_CFG_PREFIX } from './limits.js';
import { patternProblem } from './pattern.js';
import { checkGuestKind, checkGuestValues } from './rules-guest.js';
import type { RuleContext } from './rule-context.js';

export type { FileKind, RuleContext } from './rule-context.js';
import { checkCidr, durationProblem, ipv4Overlap, parsePort, percentProblem, rateProblem, sizeProblem, subnetProblem } from './values.js';

const MICROVM_ONLY = ['kernel', 'initrd', 'cmdline', 'console'] as const;
const UEFI_ONLY = ['disk', 'tpm', 'persist', 'firmware'] as const;
const PERCENTS = ['loss', 'duplicate', 'reorder', 'corrupt'] as const;

export function checkRules(data: unknown, ctx: RuleContext): Issue[] {
  if (!isRecord(data)) return [];
  const issues: Issue[] = [];
  const add = (p: string, code: string, message: string, at?: 'key' | 'value') => issues.push({ path: p, code, message, at });
  const nodes = isRecord(data.nodes) ? data.nodes : {};
  const names = Object.keys(nodes);
  const known = new Set(names);
  const unknownNode = (name: string) => {
    const near = suggest(name, names);
    const list = names.length > 12 ? `${names.slice(0, 12).join(', ')}, ... (${names.length} in all)` : names.join(', ') || 'none';
    return `unknown node "${name}"${near ? `; did you mean "${near}"?` : ''} (known nodes: ${list})`;
  };

  // Value-level checks run where a value is written: once for defaults, once per node.
  const sources: [string, unknown][] = [[pointer('defaults'), data.defaults], ...names.map((n): [string, unknown] => [pointer('nodes', n), nodes[n]])];
  for (const [base, raw] of sources) if (isRecord(raw)) checkNodeValues(base, raw, ctx, add);

  const hostNetwork = new Map<string, boolean>();
  const hostPorts = new Map<string, string>();
  for (const name of names) {
    const own = isRecord(nodes[name]) ? (nodes[name] as Record<string, unknown>) : {};
    const node = mergeNode(data.defaults, own);
    const where = (field: string) => (Object.hasOwn(own, field) ? pointer('nodes', name, field) : pointer('defaults', field));
    hostNetwork.set(name, node.host_network !== false);
    checkGuestKind(name, node, where, add);
    const kind = node.kind ?? 'microvm';
    if (kind === 'uefi') {
      for (const f of MICROVM_ONLY)
        if (node[f] !== undefined) add(where(f), 'E_KIND_FIELD', `node ${name}: ${f} is only for kind microvm (this node is uefi); remove it or set kind: microvm`, 'key');
      if (node.persist === true && node.disk === undefined)
        add(where('persist'), 'E_PERSIST_NO_DISK', `node ${name}: persist needs a disk to write to (this node boots topo's default guest from a cached image); add disk: ./disk.img or remove persist`, 'key');
    } else if (kind === 'microvm') {
      for (const f of UEFI_ONLY)
        if (node[f] !== undefined && node[f] !== false) add(where(f), 'E_KIND_FIELD', `node ${name}: ${f} is only for kind uefi (this node is microvm); remove it or set kind: uefi`, 'key');
      if (node.console === 'virtio' && node.kernel === undefined)
        add(where('console'), 'E_CONSOLE_DEFAULT_GUEST', `node ${name}: console: virtio is for nodes with their own kernel (the default guest prints on the serial console); remove it or add kernel:`, 'value');
    }
    if (isRecord(node.host_network) && typeof node.host_network.subnet === 'string' && Array.isArray(data.links)) {
      checkSubnetOverlap(name, node.host_network.subnet, `${where('host_network')}/subnet`, data.links, add);
    }
    if (Array.isArray(node.depends_on)) {
      node.depends_on.forEach((d, i) => {
        if (typeof d === 'string' && !known.has(d)) add(`${where('depends_on')}/${i}`, 'E_UNKNOWN_NODE', `${subject(`${where('depends_on')}/${i}`, d)}: ${unknownNode(d)}`);
      });
    }
    if (Array.isArray(node.channels)) {
      const seen = new Set<string>();
      node.channels.forEach((c, i) => {
        if (typeof c !== 'string') return;
        const at = `${where('channels')}/${i}`;
        if (seen.has(c)) add(at, 'E_CHANNEL_TWICE', `node ${name}: channel ${JSON.stringify(c)} is listed twice; remove one`);
        else if (c.startsWith('org.topo.')) add(at, 'E_CHANNEL_RESERVED', `node ${name}: channel names starting with "org.topo." are reserved for topo's own ports; rename it`);
        seen.add(c);
      });
    }
    if (Array.isArray(node.ports)) {
      if (node.ports.length > 0 && node.host_network === false)
        add(where('ports'), 'E_PORTS_NO_HOST', `node ${name}: ports need the host interface; remove them or drop host_network: false`, 'key');
      node.ports.forEach((p, i) => {
        const spec = parsePort(p);
        if ('problem' in spec || spec.host === 'auto') return;
        const key = `${spec.host}/${spec.protocol}`;
        const first = hostPorts.get(key);
        if (first === undefined) hostPorts.set(key, name);
        else add(`${where('ports')}/${i}`, 'E_PORT_TWICE', `host port ${key} is forwarded twice ${first === name ? `in node ${name}` : `(nodes ${first} and ${name})`}; pick another host port or use host: auto`);
      });
    }
  }

  const links = Array.isArray(data.links) ? data.links : [];
  links.forEach((link, li) => checkLink(link, li, known, hostNetwork, unknownNode, add));
  checkInterfaceUse(links, hostNetwork, add);
  checkCycles(names, nodes, data.defaults, add);
  return issues;
}

type Add = (p: string, code: string, message: string, at?: 'key' | 'value') => void;

function checkNodeValues(base: string, raw: Record<string, unknown>, ctx: RuleContext, add: Add): void {
  const value = (p: string, v: unknown, code: string, problem: string | undefined) => {
    if (problem) add(p, code, `${subject(p, v)}: ${problem}`);
  };
  if (isRecord(raw.host_network) && typeof raw.host_network.subnet === 'string') {
    const p = `${base}/host_network/subnet`;
    value(p, raw.host_network.subnet, 'E_SUBNET', subnetProblem(raw.host_network.subnet));
  }
  if (typeof raw.memory === 'string' || typeof raw.memory === 'number') value(`${base}/memory`, raw.memory, 'E_SIZE', sizeProblem(raw.memory));
  if (isRecord(raw.ready)) {
    const t = raw.ready.timeout;
    if (typeof t === 'string' || typeof t === 'number') value(`${base}/ready/timeout`, t, 'E_DURATION', durationProblem(t));
    if (typeof raw.ready.console === 'string') value(`${base}/ready/console`, raw.ready.console, 'E_REGEX', patternProblem(raw.ready.console));
  }
  if (Array.isArray(raw.ports)) {
    raw.ports.forEach((p, i) => {
      const spec = parsePort(p);
      if ('problem' in spec && (typeof p === 'string' || typeof p === 'number')) value(`${base}/ports/${i}`, p, 'E_PORT', spec.problem);
      if (isRecord(p) && typeof p.bind === 'string' && isIP(p.bind) !== 4)
        value(`${base}/ports/${i}/bind`, p.bind, 'E_BIND', 'not an IPv4 address; use e.g. 127.0.0.1 (the default) or 0.0.0.0 for every interface');
    });
  }
  if (typeof raw.cmdline === 'string') {
    const bytes = Buffer.byteLength(raw.cmdline);
    if (bytes > MAX_USER_CMDLINE) {
      const why = `${bytes} bytes is too long; the kernel takes ${KERNEL_CMDLINE_SIZE} bytes of command line and topo keeps ${CMDLINE_RESERVE} for its own arguments, so cmdline may have at most ${MAX_USER_CMDLINE}`;
      add(`${base}/cmdline`, 'E_CMDLINE_LENGTH', `${describePath(`${base}/cmdline`)}: ${why}`);
    }
  }
  checkGuestValues(base, raw, ctx, add);
  const files: [string, unknown][] = ['kernel', 'initrd', 'disk'].map((f): [string, unknown] => [`${base}/${f}`, raw[f]]);
  if (isRecord(raw.firmware)) for (const f of ['code', 'vars']) files.push([`${base}/firmware/${f}`, raw.firmware[f]]);
  if (isRecord(raw.tpm) && typeof raw.tpm.state === 'string' && raw.tpm.state !== '') {
    const p = `${base}/tpm/state`;
    const abs = path.resolve(ctx.dir, raw.tpm.state);
    const kind = ctx.fileKind(abs);
    if (kind === 'missing') add(p, 'E_FILE_MISSING', `${subject(p, raw.tpm.state)}: directory not found (looked for ${abs}); paths are relative to the topology file`);
    else if (kind === 'file') add(p, 'E_NOT_A_DIR', `${subject(p, raw.tpm.state)}: is a file (${abs}); name the directory holding swtpm's state (tpm2-00.permall)`);
  }
  if (isRecord(raw.fw_cfg)) {
    for (const [k, v] of Object.entries(raw.fw_cfg)) {
      const p = `${base}/fw_cfg${pointer(k)}`;
      if (typeof v === 'string') files.push([p, v]);
      else if (isRecord(v) && typeof v.file === 'string') files.push([`${p}/file`, v.file]);
      if (k.startsWith(RESERVED_FW_CFG_PREFIX)) {
        add(p, 'E_FW_CFG_RESERVED', `${describePath(`${base}/fw_cfg`)} name ${JSON.stringify(k)}: names under ${RESERVED_FW_CFG_PREFIX} are topo's own (it passes ${RESERVED_FW_CFG_PREFIX}config); use a name of your own, e.g. opt/org.example/${k.slice(RESERVED_FW_CFG_PREFIX.length) || 'config'}`, 'key');
      }
    }
  }
  for (const [p, f] of files) {
    if (typeof f !== 'string' || f === '') continue;
    const abs = path.resolve(ctx.dir, f);
    const kind = ctx.fileKind(abs);
    if (kind === 'missing') add(p, 'E_FILE_MISSING', `${subject(p, f)}: file not found (looked for ${abs}); paths are relative to the topology file`);
    else if (kind === 'directory') add(p, 'E_FILE_IS_DIR', `${subject(p, f)}: is a directory (${abs}), not a file; name a file in it`);
  }
}

/** Link addresses of a node that fall inside its host interface's user-mode network would be unreachable. */
function checkSubnetOverlap(name: string, subnet: string, at: string, links: readonly unknown[], add: Add): void {
  if (subnetProblem(subnet)) return;
  links.forEach((link, li) => {
    if (!isRecord(link) || !Array.isArray(link.endpoints) || !Array.isArray(link.addresses)) return;
    link.endpoints.forEach((e, ei) => {
      const a = (link.addresses as unknown[])[ei];
      if (typeof e !== 'string' || parseEndpoint(e).node !== name || typeof a !== 'string') return;
      if (isIP(a.split('/')[0] ?? '') === 4 && !('problem' in checkCidr(a)) && ipv4Overlap(a, subnet)) {
        add(at, 'E_SUBNET_OVERLAP', `node ${name}: host_network subnet ${subnet} overlaps link ${li + 1} address ${a}; pick a subnet or address outside the other`);
      }
    });
  });
}

function checkLink(
  link: unknown,
  li: number,
  known: ReadonlySet<string>,
  hostNetwork: ReadonlyMap<string, boolean>,
  unknownNode: (n: string) => string,
  add: Add,
): void {
  if (!isRecord(link)) return;
  const base = pointer('links', li);
  const label = `link ${li + 1}`;
  const eps = Array.isArray(link.endpoints) ? link.endpoints : undefined;
  if (eps && eps.length < 2) {
    add(`${base}/endpoints`, 'E_ENDPOINTS', `${label} has ${eps.length} endpoint${eps.length === 1 ? '' : 's'}; a link needs at least 2 (2: point-to-point, 3 or more: a LAN segment)`);
  }
  const seenNode = new Set<string>();
  const seenIface = new Set<string>();
  (eps ?? []).forEach((e, ei) => {
    if (typeof e !== 'string') return;
    const p = `${base}/endpoints/${ei}`;
    const ep = parseEndpoint(e);
    const subj = subject(p, e);
    if (!known.has(ep.node)) {
      if (/^[a-z][a-z0-9-]{0,31}$/.test(ep.node)) add(p, 'E_UNKNOWN_NODE', `${subj}: ${unknownNode(ep.node)}`);
      return;
    }
    if (ep.index !== undefined && ep.index > MAX_IFACE) {
      add(p, 'E_IFACE_RANGE', `${subj}: interface ${ep.iface} is out of range; a node has eth0..eth${MAX_IFACE}`);
      return;
    }
    if (ep.index === 0 && hostNetwork.get(ep.node)) {
      add(p, 'E_ETH0_HOST', `${subj}: eth0 is ${ep.node}'s host interface; use eth1 or above, or set host_network: false on ${ep.node}`);
    }
    const ifaceKey = `${ep.node}:${ep.iface ?? ''}`;
    if (ep.iface !== undefined && seenIface.has(ifaceKey)) {
      add(p, 'E_IFACE_TWICE', `interface ${ifaceKey} is used twice in ${label}; give one of them another interface`);
    } else if (seenNode.has(ep.node)) {
      add(p, 'E_SELF_LINK', `${subj}: node ${ep.node} appears twice in ${label}; a link joins different nodes`);
    }
    seenNode.add(ep.node);
    if (ep.iface !== undefined) seenIface.add(ifaceKey);
  });
  if (Array.isArray(link.addresses)) {
    const ap = `${base}/addresses`;
    if (eps && link.addresses.length !== eps.length) {
      add(ap, 'E_ADDRESS_COUNT', `${label} has ${eps.length} endpoints but ${link.addresses.length} address${link.addresses.length === 1 ? '' : 'es'}; give exactly one address per endpoint, in endpoint order`);
    }
    const families = new Set<number>();
    link.addresses.forEach((a, ai) => {
      const r = checkCidr(a);
      if ('problem' in r) add(`${ap}/${ai}`, 'E_CIDR', `${subject(`${ap}/${ai}`, a)}: ${r.problem}`);
      else families.add(r.family);
    });
    if (families.size > 1) add(ap, 'E_ADDRESS_FAMILY', `${label} mixes IPv4 and IPv6 addresses; use one family per link (add a second link for the other)`);
  }
  if (isRecord(link.impair)) {
    const imp = link.impair;
    const check = (field: string, code: string, problem: (v: unknown) => string | undefined) => {
      const v = imp[field];
      const p = `${base}/impair/${field}`;
      if (typeof v === 'string' || typeof v === 'number') {
        const why = problem(v);
        if (why) add(p, code, `${subject(p, v)}: ${why}`);
      }
    };
    check('delay', 'E_DURATION', durationProblem);
    check('jitter', 'E_DURATION', durationProblem);
    check('rate', 'E_RATE', rateProblem);
    for (const f of PERCENTS) check(f, 'E_PERCENT', percentProblem);
  }
}

function checkInterfaceUse(links: readonly unknown[], hostNetwork: ReadonlyMap<string, boolean>, add: Add): void {
  const { ends, exhausted } = assignInterfaces(hostNetwork, links);
  const firstUse = new Map<string, number>();
  ends.forEach((eps, li) => {
    const inLink = new Set<string>();
    for (const a of eps) {
      if (!a) continue;
      const key = `${a.node}:${a.iface}`;
      // Twice within one link is reported by checkLink; here only across links.
      if (inLink.has(key)) continue;
      inLink.add(key);
      const first = firstUse.get(key);
      if (first === undefined) firstUse.set(key, li);
      else {
        const ei = eps.indexOf(a);
        add(pointer('links', li, 'endpoints', ei), 'E_IFACE_TWICE', `interface ${key} is used twice (links ${first + 1} and ${li + 1}); give one of them another interface`);
      }
    }
  });
  for (const x of exhausted) {
    add(pointer('links', x.link, 'endpoints', x.endpoint), 'E_IFACE_FULL', `link ${x.link + 1} endpoint "${x.node}": ${x.node} has no free interface left (eth0..eth${MAX_IFACE} are all used); a node has at most ${MAX_IFACE + 1} interfaces`);
  }
}

function checkCycles(names: readonly string[], nodes: Record<string, unknown>, defaults: unknown, add: Add): void {
  const g = new Graph({ directed: true });
  const order = new Map(names.map((n, i) => [n, i]));
  for (const n of names) g.setNode(n);
  for (const n of names) {
    const deps = mergeNode(defaults, nodes[n]).depends_on;
    if (Array.isArray(deps)) for (const d of deps) if (typeof d === 'string' && order.has(d)) g.setEdge(n, d);
  }
  for (const scc of alg.findCycles(g)) {
    const members = new Set(scc);
    const start = [...scc].sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0))[0] as string;
    const cycle = cyclePath(g, start, members);
    const own = isRecord(nodes[start]) && Object.hasOwn(nodes[start], 'depends_on');
    const where = own ? pointer('nodes', start, 'depends_on') : pointer('defaults', 'depends_on');
    add(where, 'E_DEP_CYCLE', `depends_on cycle: ${cycle.join(' -> ')}; remove one of these dependencies`, 'key');
  }
}

/** Shortest way from start back to itself inside one strongly connected component (BFS). */
function cyclePath(g: Graph, start: string, members: ReadonlySet<string>): string[] {
  const parent = new Map<string, string>();
  const queue = [start];
  for (let qi = 0; qi < queue.length; qi++) {
    const v = queue[qi] as string;
    for (const w of (g.successors(v) ?? []).sort()) {
      if (!members.has(w)) continue;
      if (w === start) {
        const back = [v];
        while (back[0] !== start) back.unshift(parent.get(back[0] as string) as string);
        return [...back, start];
      }
      if (!parent.has(w)) {
        parent.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}
