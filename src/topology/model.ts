// The resolved model: what every later phase (plan, resources, runtime, guest config) consumes.
// Immutable by convention (deeply readonly); produced only by resolve.ts.

export type NodeKind = 'microvm' | 'uefi';
export type RestartPolicy = 'never' | 'on-failure';

export interface PortForward {
  readonly guest: number;
  /** A fixed host port, or 'auto' for a free one picked at launch. */
  readonly host: number | 'auto';
  readonly protocol: 'tcp' | 'udp';
  /** Host address to listen on; absent = loopback (FORWARD_BIND). */
  readonly bind?: string;
}

export interface TpmSpec {
  /** Absolute path of prepared swtpm state to copy in; absent = manufacture a fresh TPM. */
  readonly state?: string;
  readonly interface: 'crb' | 'tis';
}

export type FwCfgEntry = { readonly name: string; readonly file: string } | { readonly name: string; readonly string: string };

/** A `files:` entry: placed in the guest before `run:`. */
export interface GuestFile {
  /** Absolute, normalised guest path. */
  readonly path: string;
  /** Absolute host path, or the content itself. */
  readonly source: { readonly file: string } | { readonly string: string };
  /** Permission bits; absent = 0644 (0755 for a host file with an execute bit). */
  readonly mode?: number;
}

/** A `shares:` entry: a live host directory. */
export interface Share {
  /** Absolute host path. */
  readonly host: string;
  readonly guest: string;
  readonly writable: boolean;
}

export interface Impairment {
  readonly delayMs: number;
  readonly jitterMs: number;
  readonly lossPct: number;
  /** Bits per second; 0 = unlimited. */
  readonly rateBps: number;
  readonly duplicatePct: number;
  readonly reorderPct: number;
  readonly corruptPct: number;
}

export interface ResolvedInterface {
  /** eth0..eth63 */
  readonly name: string;
  readonly index: number;
  /** Locally administered unicast MAC, derived from lab, node and interface. */
  readonly mac: string;
  /** 'host' = user-mode (SLIRP) eth0; 'link' = one end of a link. */
  readonly kind: 'host' | 'link';
  /** Link id (see ResolvedLink.id) for kind 'link'. */
  readonly link?: string;
  readonly mtu: number;
  /** CIDR addresses applied by the default guest. */
  readonly addresses: readonly string[];
}

export interface ResolvedNode {
  readonly name: string;
  readonly kind: NodeKind;
  readonly cpus: number;
  readonly memoryMiB: number;
  /** Absolute paths; undefined = the default guest (microvm) */
  readonly kernel?: string;
  readonly initrd?: string;
  readonly cmdline?: string;
  readonly disk?: string;
  /** Console device of a microvm kernel: ttyS0 (serial) or hvc0 (virtio). */
  readonly console: 'serial' | 'virtio';
  /** undefined = no TPM. */
  readonly tpm?: TpmSpec;
  /** uefi: OVMF override (absolute paths); absent = the system's OVMF pair. */
  readonly firmware?: { readonly code: string; readonly vars: string };
  readonly fwCfg: readonly FwCfgEntry[];
  readonly hostNetwork: boolean;
  /** The user-mode network of eth0 (e.g. 10.42.0.0/24); absent = QEMU's default 10.0.2.0/24. */
  readonly hostSubnet?: string;
  /** A guest reboot resets the machine in the same QEMU (no -no-reboot). */
  readonly allowReboot: boolean;
  readonly ports: readonly PortForward[];
  readonly ready: { readonly console?: string; readonly timeoutMs?: number };
  readonly run: readonly string[];
  readonly dependsOn: readonly string[];
  readonly restart: RestartPolicy;
  readonly persist: boolean;
  /** Sorted by index: eth0 (host) first when hostNetwork, then link interfaces. */
  readonly interfaces: readonly ResolvedInterface[];
  /** Extra virtio-serial ports (`channels:`), by name. */
  readonly channels?: readonly string[];
  /** Debian packages (NAME or NAME=VERSION), the defaults' and the node's; absent = none. */
  readonly packages?: readonly string[];
  readonly files?: readonly GuestFile[];
  readonly shares?: readonly Share[];
}

export interface LinkEndpoint {
  readonly node: string;
  readonly iface: string;
  readonly mac: string;
  readonly address?: string;
}

export interface ResolvedLink {
  /** Stable id: "l1", "l2", ... in file order. */
  readonly id: string;
  readonly index: number;
  /** 2 endpoints: point-to-point; 3 or more: a switched segment. */
  readonly kind: 'p2p' | 'segment';
  readonly endpoints: readonly LinkEndpoint[];
  readonly mtu: number;
  readonly capture: boolean;
  readonly impair?: Impairment;
  /** Forwarded through the runner even when a socketpair would do (`forward: true`, `up --forward-all`). */
  readonly forward?: boolean;
}

export interface ResolvedTopology {
  readonly name: string;
  /** Absolute path of the topology file, and its directory. */
  readonly file: string;
  readonly dir: string;
  /** In file order. */
  readonly nodes: readonly ResolvedNode[];
  readonly links: readonly ResolvedLink[];
  /** `seed:` of the file; the runtime derives one from the name when absent. */
  readonly seed?: number;
}
