// Pure plan: a resolved node + the resources allocated for it -> QEMU argv. No I/O here.
import type { ResolvedNode, ResolvedTopology } from '../topology/model.js';
import { GUEST_KERNEL_ARGS } from '../guest/config.js';
import { qemuOpts } from './escape.js';

export type Accel = 'kvm' | 'tcg';

/** A channel the runtime must hand to the child as an inherited fd; its index in `fdSlots` + 3 is the child's fd. */
export type FdSlot = { kind: 'console' } | { kind: 'qmp' } | { kind: 'agent' } | { kind: 'link'; iface: string; link: string };

export interface HostForward {
  readonly protocol: 'tcp' | 'udp';
  readonly host: number;
  readonly guest: number;
  readonly bind: string;
}

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
}

export interface NodePlan {
  readonly node: string;
  readonly binary: string;
  readonly argv: readonly string[];
  readonly fdSlots: readonly FdSlot[];
}

export const QEMU_BINARY = 'qemu-system-x86_64';
export const GUEST_CONFIG_FW_CFG = 'opt/topo/config';
export const AGENT_PORT_NAME = 'org.topo.agent';

export function planNode(topology: ResolvedTopology, node: ResolvedNode, inputs: NodeLaunchInputs): NodePlan {
  if (node.kind !== 'microvm') throw new Error(`planNode: kind ${node.kind} is not supported yet`);
  const slots: FdSlot[] = [];
  const fd = (slot: FdSlot) => slots.push(slot) + 2;
  // microvm has 24 virtio-mmio transports (rng and the agent port take one each): more NICs go on its PCIe bus.
  const pcie = node.interfaces.length > MMIO_TRANSPORTS - 1 - (inputs.defaultGuest ? 1 : 0);

  const argv: string[] = [
    '-name', qemuOpts(undefined, { guest: `${topology.name}-${node.name}` }),
    '-accel', inputs.accel,
    '-M', qemuOpts('microvm', { 'x-option-roms': 'off', 'isa-serial': 'on', pcie: pcie ? 'on' : undefined }),
    '-cpu', inputs.accel === 'kvm' ? 'host' : 'max',
    '-smp', String(node.cpus),
    '-m', `${node.memoryMiB}M`,
    '-nodefaults', '-no-user-config', '-display', 'none',
    // A guest reboot (panic=-1) ends QEMU, so the supervisor sees it instead of a silent boot loop.
    '-no-reboot',
    '-kernel', must(inputs.kernel, 'kernel'),
  ];
  if (inputs.initrd) argv.push('-initrd', inputs.initrd);
  argv.push('-append', kernelCmdline(node, inputs));

  argv.push('-chardev', qemuOpts('socket', { id: 'con', fd: fd({ kind: 'console' }) }), '-serial', 'chardev:con');
  argv.push('-chardev', qemuOpts('socket', { id: 'qmp', fd: fd({ kind: 'qmp' }) }), '-mon', 'chardev=qmp,mode=control');
  argv.push('-device', 'virtio-rng-device');

  if (inputs.defaultGuest) {
    argv.push(
      '-device', 'virtio-serial-device',
      '-chardev', qemuOpts('socket', { id: 'agent', fd: fd({ kind: 'agent' }) }),
      '-device', qemuOpts('virtserialport', { chardev: 'agent', name: AGENT_PORT_NAME }),
    );
  }
  if (inputs.guestConfigFile) argv.push('-fw_cfg', qemuOpts(undefined, { name: GUEST_CONFIG_FW_CFG, file: inputs.guestConfigFile }));
  for (const entry of node.fwCfg) argv.push('-fw_cfg', qemuOpts(undefined, { name: entry.name, file: entry.file }));

  let nic = 0;
  for (const iface of node.interfaces) {
    const id = `net${iface.index}`;
    if (iface.kind === 'host') {
      const hostfwd = inputs.hostForwards.map((f) => `${f.protocol}:${f.bind}:${f.host}-:${f.guest}`);
      argv.push('-netdev', userNetdev(id, hostfwd));
    } else {
      argv.push('-netdev', qemuOpts('socket', { id, fd: fd({ kind: 'link', iface: iface.name, link: must(iface.link, 'link') }) }));
    }
    argv.push('-device', pcie ? pciNic(id, iface.mac, nic++) : qemuOpts('virtio-net-device', { netdev: id, mac: iface.mac }));
  }
  return { node: node.name, binary: inputs.binary ?? QEMU_BINARY, argv, fdSlots: slots };
}

const MMIO_TRANSPORTS = 24;

/** Slot 1.. with 8 functions each, so 64 NICs fit in 8 slots. */
function pciNic(netdev: string, mac: string, i: number): string {
  const slot = 1 + Math.floor(i / 8);
  const fn = i % 8;
  return qemuOpts('virtio-net-pci', { netdev, mac, addr: `${slot.toString(16)}.${fn}`, multifunction: fn === 0 ? true : undefined });
}

function userNetdev(id: string, hostfwd: string[]): string {
  // hostfwd may repeat; qemuOpts takes a record, so the repeated keys are appended by hand (each value escaped).
  return [qemuOpts('user', { id }), ...hostfwd.map((h) => qemuOpts(undefined, { hostfwd: h }))].join(',');
}

export function kernelCmdline(node: ResolvedNode, inputs: Pick<NodeLaunchInputs, 'accel' | 'tscKhz' | 'defaultGuest'>): string {
  const parts: string[] = inputs.defaultGuest ? [...GUEST_KERNEL_ARGS] : ['console=ttyS0', 'panic=-1', 'reboot=t'];
  if (inputs.accel === 'tcg' && inputs.tscKhz) parts.push(`tsc_early_khz=${inputs.tscKhz}`);
  if (node.cmdline) parts.push(node.cmdline);
  return parts.join(' ');
}

function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`planNode: missing ${what}`);
  return value;
}
