// Plan types and the argv pieces both machine kinds share (console, QMP, agent, fw_cfg, NICs). Pure, no I/O.
import type { ResolvedInterface, ResolvedNode } from '../topology/model.js';
import { qemuOpts } from './escape.js';
import { AGENT_PORT_NAME, GUEST_CONFIG_FW_CFG_NAME } from '../guest/config.js';
import { FILES_FW_CFG_NAME } from '../guest/files.js';

/** Serial number the guest finds its package layer's disk by (guest/init.sh). */
export const LAYER_SERIAL = 'topo-layer';

/** The package layer: a read-only raw drive (the image is shared by every node; QEMU never writes it). */
export function layerArgs(image: string | undefined, device: 'virtio-blk-device' | 'virtio-blk-pci'): string[] {
  if (!image) return [];
  return [
    '-drive', qemuOpts(undefined, { if: 'none', id: 'layer', file: image, format: 'raw', readonly: true }),
    '-device', qemuOpts(device, { drive: 'layer', serial: LAYER_SERIAL }),
  ];
}

/** A `shares:` entry as launched: virtiofsd (started by the runtime) listens on `socket`; the guest mounts `tag`. */
export interface PlannedShare {
  readonly tag: string;
  readonly host: string;
  readonly writable: boolean;
  /** The run directory (virtiofsd's cwd) and the base name of the share's files in it. */
  readonly runDir: string;
  readonly base: string;
  readonly socket: string;
}

/**
 * virtiofs devices, one per share, and the shared guest RAM they need (virtiofsd maps it): `memoryArgs` replace -m's
 * private RAM by a memfd backend; `machineProp` goes on -M.
 */
export function shareArgs(shares: readonly PlannedShare[] | undefined, memoryMiB: number, device: 'vhost-user-fs-device' | 'vhost-user-fs-pci'): string[] {
  if (!shares || shares.length === 0) return [];
  const argv = ['-object', qemuOpts('memory-backend-memfd', { id: 'mem', size: `${memoryMiB}M`, share: 'on' })];
  shares.forEach((s, i) => {
    argv.push('-chardev', qemuOpts('socket', { id: `fs${i}`, path: s.socket }), '-device', qemuOpts(device, { chardev: `fs${i}`, tag: s.tag }));
  });
  return argv;
}

export type Accel = 'kvm' | 'tcg';

/** A channel the runtime must hand to the child as an inherited fd; its index in `fdSlots` + 3 is the child's fd. */
export type FdSlot =
  | { kind: 'console' }
  | { kind: 'qmp' }
  | { kind: 'agent' }
  | { kind: 'link'; iface: string; link: string }
  /** swtpm's control channel (QEMU's -tpmdev emulator); the runtime starts swtpm on the other end. */
  | { kind: 'tpm' }
  /** A user's extra virtio-serial port (`channels:`). */
  | { kind: 'channel'; name: string };

export interface HostForward {
  readonly protocol: 'tcp' | 'udp';
  readonly host: number;
  readonly guest: number;
  readonly bind: string;
}

export type DiskFormat = 'raw' | 'qcow2';

export interface NodeLaunchInputs {
  readonly accel: Accel;
  /** QEMU binary; defaults to qemu-system-x86_64. */
  readonly binary?: string;
  /** Kernel/initrd for microvm nodes: the node's own or the default guest. */
  readonly kernel?: string;
  readonly initrd?: string;
  /** True when the kernel/initrd are topo's default guest (it gets the config and agent channel). */
  readonly defaultGuest: boolean;
  /** Host TSC rate for tsc_early_khz= under TCG (several guests booting at once hang in calibration otherwise). */
  readonly tscKhz?: number;
  /** Path of the rendered guest configuration, passed through fw_cfg. */
  readonly guestConfigFile?: string;
  readonly hostForwards: readonly HostForward[];
  /** uefi: OVMF code (read-only) and this node's private copy of the variable store. */
  readonly firmware?: { readonly code: string; readonly vars: string };
  /** uefi: the disk's format, detected by the runtime (the plan does no I/O). */
  readonly diskFormat?: DiskFormat;
  /** uefi without a disk of its own: the default guest's cached ESP image (always in snapshot mode). */
  readonly disk?: string;
  /** The node's package layer (a cached erofs image), attached read-only. */
  readonly layer?: string;
  /** The node's `files:` archive, passed through fw_cfg opt/topo/files. */
  readonly filesArchive?: string;
  /** The node's shares, each served by a virtiofsd the runtime starts before QEMU. */
  readonly shares?: readonly PlannedShare[];
}

export interface NodePlan {
  readonly node: string;
  readonly binary: string;
  readonly argv: readonly string[];
  readonly fdSlots: readonly FdSlot[];
  /** virtiofsds to start before QEMU (it connects to their sockets). */
  readonly shares?: readonly PlannedShare[];
}

export const QEMU_BINARY = 'qemu-system-x86_64';

/** Collects fd slots; the returned number is the fd the child sees (slots start at 3). */
export class Slots {
  readonly list: FdSlot[] = [];
  fd(slot: FdSlot): number {
    return this.list.push(slot) + 2;
  }
}

/**
 * `tcgCpu`: the model under TCG (the default guest's is chosen in plan.ts).
 */
export function baseArgs(name: string, node: ResolvedNode, inputs: NodeLaunchInputs, machine: string, tcgCpu = 'max'): string[] {
  return [
    '-name', qemuOpts(undefined, { guest: name }),
    '-accel', inputs.accel,
    '-M', machine,
    '-cpu', inputs.accel === 'kvm' ? 'host' : tcgCpu,
    '-smp', String(node.cpus),
    '-m', `${node.memoryMiB}M`,
    '-nodefaults', '-no-user-config', '-display', 'none',
    // A guest reboot ends QEMU, so the supervisor sees it instead of a silent boot loop (allow_reboot resets in place).
    ...(node.allowReboot ? [] : ['-no-reboot']),
  ];
}

/**
 * Console and QMP, each on its own inherited socket. The console is the UART, or with `virtioBus` a virtconsole
 * (hvc0) as the first port of that virtio-serial bus, which this then creates.
 */
export function consoleAndQmp(slots: Slots, virtioBus?: 'virtio-serial-device'): string[] {
  const con = qemuOpts('socket', { id: 'con', fd: slots.fd({ kind: 'console' }) });
  return [
    ...(virtioBus ? ['-device', virtioBus, '-chardev', con, '-device', 'virtconsole,chardev=con'] : ['-chardev', con, '-serial', 'chardev:con']),
    '-chardev', qemuOpts('socket', { id: 'qmp', fd: slots.fd({ kind: 'qmp' }) }), '-mon', 'chardev=qmp,mode=control',
  ];
}

/**
 * The agent's virtio-serial port and the node's extra channels; `bus` is the transport's virtio-serial device,
 * or undefined when one exists already (the virtio console's).
 */
export function serialPortArgs(slots: Slots, bus: 'virtio-serial-device' | 'virtio-serial-pci' | undefined, node: ResolvedNode, agent: boolean): string[] {
  const channels = node.channels ?? [];
  if (!agent && channels.length === 0) return [];
  const argv = bus ? ['-device', bus] : [];
  if (agent) {
    argv.push(
      '-chardev', qemuOpts('socket', { id: 'agent', fd: slots.fd({ kind: 'agent' }) }),
      '-device', qemuOpts('virtserialport', { chardev: 'agent', name: AGENT_PORT_NAME }),
    );
  }
  channels.forEach((name, i) => {
    argv.push(
      '-chardev', qemuOpts('socket', { id: `chan${i}`, fd: slots.fd({ kind: 'channel', name }) }),
      '-device', qemuOpts('virtserialport', { chardev: `chan${i}`, name }),
    );
  });
  return argv;
}

export function fwCfgArgs(node: ResolvedNode, guestConfigFile: string | undefined, filesArchive?: string): string[] {
  const argv: string[] = [];
  if (guestConfigFile) argv.push('-fw_cfg', qemuOpts(undefined, { name: GUEST_CONFIG_FW_CFG_NAME, file: guestConfigFile }));
  if (filesArchive) argv.push('-fw_cfg', qemuOpts(undefined, { name: FILES_FW_CFG_NAME, file: filesArchive }));
  for (const entry of node.fwCfg) {
    argv.push('-fw_cfg', qemuOpts(undefined, 'file' in entry ? { name: entry.name, file: entry.file } : { name: entry.name, string: entry.string }));
  }
  return argv;
}

/** The -netdev value of one interface: user-mode with the node's forwards, or a link on an inherited socket. */
export function netdev(slots: Slots, iface: ResolvedInterface, hostForwards: readonly HostForward[], subnet?: string): string {
  const id = netId(iface);
  if (iface.kind === 'host') {
    // hostfwd may repeat; qemuOpts takes a record, so the repeated keys are appended by hand (each value escaped).
    const fwds = hostForwards.map((f) => qemuOpts(undefined, { hostfwd: `${f.protocol}:${f.bind}:${f.host}-:${f.guest}` }));
    return [qemuOpts('user', { id, net: subnet }), ...fwds].join(',');
  }
  return qemuOpts('socket', { id, fd: slots.fd({ kind: 'link', iface: iface.name, link: must(iface.link, 'link') }) });
}

export function netId(iface: ResolvedInterface): string {
  return `net${iface.index}`;
}

/** 8 functions per slot from `firstSlot`, so 64 NICs fit in 8 slots. */
export function pciNic(netdevId: string, mac: string, i: number, firstSlot: number, extra: Record<string, string> = {}): string {
  const slot = firstSlot + Math.floor(i / 8);
  const fn = i % 8;
  return qemuOpts('virtio-net-pci', { netdev: netdevId, mac, addr: `${slot.toString(16)}.${fn}`, multifunction: fn === 0 ? true : undefined, ...extra });
}

export function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`planNode: missing ${what}`);
  return value;
}
