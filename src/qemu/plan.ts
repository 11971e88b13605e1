// Pure plan: a resolved node + the resources allocated for it -> QEMU argv. No I/O here.
import type { ResolvedNode, ResolvedTopology } from '../topology/model.js';
import { GUEST_KERNEL_ARGS } from '../guest/config.js';
import { qemuOpts } from './escape.js';
import { layerArgs, shareArgs, serialPortArgs, baseArgs, consoleAndQmp, fwCfgArgs, must, netdev, netId, pciNic, QEMU_BINARY, Slots, type NodeLaunchInputs, type NodePlan } from './plan-parts.js';
import { planUefi } from './plan-uefi.js';

export type { Accel, DiskFormat, FdSlot, HostForward, NodeLaunchInputs, NodePlan, PlannedShare } from './plan-parts.js';
export { QEMU_BINARY } from './plan-parts.js';

export function planNode(topology: ResolvedTopology, node: ResolvedNode, inputs: NodeLaunchInputs): NodePlan {
  if (node.kind === 'uefi') return planUefi(topology, node, inputs);
  const slots = new Slots();
  // microvm has 24 virtio-mmio transports (rng and the agent port take one each): more NICs go on its PCIe bus.
  const virtioConsole = node.console === 'virtio';
  const serialBus = virtioConsole || inputs.defaultGuest || (node.channels ?? []).length > 0 ? 1 : 0;
  const shares = inputs.shares ?? [];
  const pcie = node.interfaces.length > MMIO_TRANSPORTS - 1 - serialBus - (inputs.layer ? 1 : 0) - shares.length;
  const machine = qemuOpts('microvm', { 'x-option-roms': 'off', 'isa-serial': 'on', pcie: pcie ? 'on' : undefined, 'memory-backend': shares.length > 0 ? 'mem' : undefined });

  const argv = baseArgs(`${topology.name}-${node.name}`, node, inputs, machine, inputs.defaultGuest ? DEFAULT_GUEST_TCG_CPU : 'max');
  argv.push('-kernel', must(inputs.kernel, 'kernel'));
  if (inputs.initrd) argv.push('-initrd', inputs.initrd);
  argv.push('-append', kernelCmdline(node, inputs));
  argv.push(...consoleAndQmp(slots, virtioConsole ? 'virtio-serial-device' : undefined), '-device', 'virtio-rng-device');
  argv.push(...serialPortArgs(slots, virtioConsole ? undefined : 'virtio-serial-device', node, inputs.defaultGuest));
  argv.push(...fwCfgArgs(node, inputs.guestConfigFile, inputs.filesArchive), ...layerArgs(inputs.layer, 'virtio-blk-device'));
  // virtiofsd's libvhost-user refuses legacy virtio, microvm's default virtio-mmio version: modern on nodes with shares.
  if (shares.length > 0) argv.push('-global', 'virtio-mmio.force-legacy=false');
  argv.push(...shareArgs(shares, node.memoryMiB, 'vhost-user-fs-device'));

  let nic = 0;
  for (const iface of node.interfaces) {
    argv.push('-netdev', netdev(slots, iface, inputs.hostForwards, node.hostSubnet));
    const id = netId(iface);
    argv.push('-device', pcie ? pciNic(id, iface.mac, nic++, 1) : qemuOpts('virtio-net-device', { netdev: id, mac: iface.mac }));
  }
  return { node: node.name, binary: inputs.binary ?? QEMU_BINARY, argv, fdSlots: slots.list, ...(shares.length > 0 ? { shares } : {}) };
}

const MMIO_TRANSPORTS = 24;
/**
 * qemu64 boots cheaper than max under TCG (fewer alternatives to patch). +arat (always-running APIC timer) is not
 * optional: without it the kernel cannot stop the tick when idle, and every idle guest costs 5 % of a core at 250 Hz
 * instead of 0.6 % (measured; 64 idle guests would take more than 2 cores).
 */
const DEFAULT_GUEST_TCG_CPU = 'qemu64,+arat';

export function kernelCmdline(node: ResolvedNode, inputs: Pick<NodeLaunchInputs, 'accel' | 'tscKhz' | 'defaultGuest'>): string {
  const parts: string[] = inputs.defaultGuest ? [...GUEST_KERNEL_ARGS] : [node.console === 'virtio' ? 'console=hvc0' : 'console=ttyS0', 'panic=-1', 'reboot=t'];
  if (inputs.accel === 'tcg' && inputs.tscKhz) parts.push(`tsc_early_khz=${inputs.tscKhz}`);
  if (node.cmdline) parts.push(node.cmdline);
  return parts.join(' ');
}
