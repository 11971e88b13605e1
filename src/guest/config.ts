// Renders a node's guest configuration: the file QEMU exposes as fw_cfg "opt/topo/config".
//
// Format (read by guest/init.sh with `while read -r kw a b c`): one record per line, fields separated
// by one space, and every free-text value base64-encoded (busybox `base64 -d`), so commands with quotes,
// `$`, backslashes, newlines or unicode arrive byte-exact and the shell never parses them:
//   topo-guest-config 1          first line: format version
//   hostname <b64 name>
//   iface <mac> <name> <mtu>     rename the NIC with this MAC to <name> and set its MTU
//   addr <name> <cidr>           IPv4 or IPv6 address
//   gateway <name> <ipv4>        default route (the host interface: SLIRP's 10.0.2.2)
//   dns <ip>                     nameserver for /etc/resolv.conf
//   run <b64 command>            a `run:` command, executed in file order by `sh`
//   channel <name>               a user virtio-serial port: ready waits for /dev/virtio-ports/<name>
//   share <tag> <b64 path> <ro|rw>  a virtiofs share: mounted at the path before `run:` (the host enforces ro)
//   nonce <hex>                  per run: init prints exactly "topo-guest: ready <hex>" (readyLine)
import type { ResolvedNode } from '../topology/model.js';
import { TopoError } from '../errors.js';
import { slirpAddresses } from '../topology/values.js';

export const GUEST_CONFIG_FW_CFG_NAME = 'opt/topo/config';
/** virtio-serial port name the agent (guest/agent.sh) listens on. */
export const AGENT_PORT_NAME = 'org.topo.agent';
export const GUEST_CONFIG_VERSION = 1;
/** Prefix of the line init prints once the node is ready; the whole line is readyLine(nonce). */
export const READY_LINE = 'topo-guest: ready';
/** Names of user virtio-serial channels (the guest links /dev/virtio-ports/<name>). */
export const CHANNEL_NAME = /^[a-z][a-z0-9._-]{0,63}$/;

/** User-mode networking (SLIRP) defaults: static, so the guest needs no DHCP round trip. */
export const SLIRP = { address: '10.0.2.15/24', gateway: '10.0.2.2', dns: '10.0.2.3' } as const;

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
const CIDR = /^[0-9A-Fa-f:.]+\/\d{1,3}$/;
const NONCE = /^[0-9a-f]{1,64}$/;
/** virtiofs tags: at most 36 bytes (the device's limit), no space (a config field). */
const SHARE_TAG = /^[A-Za-z0-9_.-]{1,36}$/;

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

function check(ok: boolean, node: string, what: string): void {
  if (!ok) throw new TopoError(`cannot render guest config: invalid ${what}`, { code: 'E_GUEST_CONFIG', node });
}

export interface GuestConfigOptions {
  /** Per-run random hex (e.g. randomBytes(8).toString('hex')): only this run's guest can print its ready line. */
  readonly nonce?: string;
  /** User virtio-serial port names the node has; the guest is ready only once each has its /dev/virtio-ports link. */
  readonly channels?: readonly string[];
  /** virtiofs tags of the node's shares, in the order of node.shares. */
  readonly shareTags?: readonly string[];
}

/** The exact console line of a ready default guest configured with `nonce` ('' = no nonce record). */
export function readyLine(nonce: string): string {
  return nonce ? `${READY_LINE} ${nonce}` : READY_LINE;
}

/** Whole-line compare (a trailing \r from the serial console is ignored): run: output can't fake it. */
export function isReadyLine(line: string, nonce: string): boolean {
  return (line.endsWith('\r') ? line.slice(0, -1) : line) === readyLine(nonce);
}

/** Pure: the same node and options always give the same bytes. */
export function renderGuestConfig(node: ResolvedNode, opts: GuestConfigOptions = {}): Buffer {
  const lines = [`topo-guest-config ${GUEST_CONFIG_VERSION}`, `hostname ${b64(node.name)}`];
  const addrs: string[] = [];
  for (const i of node.interfaces) {
    const mac = i.mac.toLowerCase();
    check(MAC.test(mac), node.name, `MAC ${JSON.stringify(i.mac)}`);
    check(IFNAME.test(i.name), node.name, `interface name ${JSON.stringify(i.name)}`);
    check(Number.isInteger(i.mtu) && i.mtu >= 68 && i.mtu <= 65535, node.name, `MTU ${i.mtu} on ${i.name}`);
    lines.push(`iface ${mac} ${i.name} ${i.mtu}`);
    const slirp = node.hostSubnet ? slirpAddresses(node.hostSubnet) : SLIRP;
    const list = i.kind === 'host' && i.addresses.length === 0 ? [slirp.address] : i.addresses;
    for (const a of list) {
      check(CIDR.test(a), node.name, `address ${JSON.stringify(a)} on ${i.name}`);
      addrs.push(`addr ${i.name} ${a}`);
    }
    if (i.kind === 'host') addrs.push(`gateway ${i.name} ${slirp.gateway}`, `dns ${slirp.dns}`);
  }
  lines.push(...addrs);
  (node.shares ?? []).forEach((sh, i) => {
    const tag = opts.shareTags?.[i];
    if (tag === undefined) return;
    check(SHARE_TAG.test(tag), node.name, `share tag ${JSON.stringify(tag)}`);
    lines.push(`share ${tag} ${b64(sh.guest)} ${sh.writable ? 'rw' : 'ro'}`);
  });
  for (const cmd of node.run) lines.push(`run ${b64(cmd)}`);
  for (const name of opts.channels ?? []) {
    check(CHANNEL_NAME.test(name) && name !== AGENT_PORT_NAME, node.name, `channel name ${JSON.stringify(name)}`);
    lines.push(`channel ${name}`);
  }
  if (opts.nonce !== undefined) {
    check(NONCE.test(opts.nonce), node.name, `nonce ${JSON.stringify(opts.nonce)} (1-64 lowercase hex digits)`);
    lines.push(`nonce ${opts.nonce}`);
  }
  return Buffer.from(`${lines.join('\n')}\n`, 'utf8');
}

/**
 * Kernel command line for the default guest on microvm. Measured under TCG (2 cores, 5 sequential boots):
 * the tuning flags take the median to ready from ~1.75 s to ~1.4 s. mitigations=off only affects the
 * guest kernel's own hardening (disposable lab guest); tsc=reliable/no_timer_check skip checks that are
 * meaningless in a VM; cryptomgr.notests skips crypto self-tests; 8250.nr_uarts=1 probes one UART.
 * init_on_alloc=0 (pages are not zeroed twice: clear_page was the top symbol of a sampled boot) and
 * lsm=capability (no SELinux/Landlock/Yama/IMA set-up) cut another ~0.3 s (bench/boot-profile.ts, README).
 */
export const GUEST_KERNEL_ARGS = [
  'console=ttyS0', 'quiet', 'panic=-1', 'reboot=t', '8250.nr_uarts=1', 'mitigations=off', 'cryptomgr.notests',
  'audit=0', 'apparmor=0', 'tsc=reliable', 'no_timer_check', 'random.trust_cpu=on', 'init_on_alloc=0', 'lsm=capability',
] as const;
