// Pure plan for kind: uefi — q35 + OVMF booting the node's disk, with the same channels as microvm. No I/O here.
import type { ResolvedNode, ResolvedTopology } from '../topology/model.js';
import { qemuOpts } from './escape.js';
import { layerArgs, shareArgs, serialPortArgs, baseArgs, consoleAndQmp, fwCfgArgs, must, netdev, netId, pciNic, QEMU_BINARY, Slots, type NodeLaunchInputs, type NodePlan } from './plan-parts.js';

/** NICs get fixed PCI addresses from this slot on (8 slots, 8 functions each); lower slots stay for auto-placed devices. */
export const UEFI_NIC_FIRST_SLOT = 0x10;

export function planUefi(topology: ResolvedTopology, node: ResolvedNode, inputs: NodeLaunchInputs): NodePlan {
  const slots = new Slots();
  const fw = must(inputs.firmware, 'firmware');
  // Debian's OVMF_CODE_4M.fd is the build without SMM_REQUIRE: q35's default smm setting is fine (measured: smm=off boots the same).
  const snapshot = !node.persist || node.disk === undefined;
  const shares = inputs.shares ?? [];
  const argv = baseArgs(`${topology.name}-${node.name}`, node, inputs, shares.length > 0 ? qemuOpts('q35', { 'memory-backend': 'mem' }) : 'q35');
  argv.push(
    '-drive', qemuOpts(undefined, { if: 'pflash', format: 'raw', unit: 0, readonly: true, file: fw.code }),
    '-drive', qemuOpts(undefined, { if: 'pflash', format: 'raw', unit: 1, file: fw.vars }),
    // snapshot=on: writes go to a temporary overlay, so the image is the same for every run unless persist;
    // cache=unsafe (as the launcher): the overlay is thrown away anyway, so flushes need not reach the host disk.
    '-drive', qemuOpts(undefined, { if: 'none', id: 'disk0', file: must(inputs.disk ?? node.disk, 'disk'), format: inputs.diskFormat ?? 'raw', ...(snapshot ? { snapshot: true, cache: 'unsafe' } : {}) }),
    '-device', qemuOpts('virtio-blk-pci', { drive: 'disk0', bootindex: 0 }),
  );
  argv.push(...consoleAndQmp(slots), '-device', 'virtio-rng-pci');
  // Always present: harmless for an arbitrary OS, and what topo's own guest (see `topo guest esp`) talks through.
  argv.push(...serialPortArgs(slots, 'virtio-serial-pci', node, true));
  if (node.tpm) {
    argv.push(
      '-chardev', qemuOpts('socket', { id: 'chrtpm', fd: slots.fd({ kind: 'tpm' }) }),
      '-tpmdev', 'emulator,id=tpm0,chardev=chrtpm',
      // CRB (default): the TPM 2.0 interface OVMF and Linux (tpm_crb, built in) expect on q35; TIS as the launcher had it.
      '-device', `tpm-${node.tpm.interface},tpmdev=tpm0`,
    );
  }
  argv.push(...fwCfgArgs(node, inputs.guestConfigFile, inputs.filesArchive), ...layerArgs(inputs.layer, 'virtio-blk-pci'));
  argv.push(...shareArgs(shares, node.memoryMiB, 'vhost-user-fs-pci'));

  node.interfaces.forEach((iface, i) => {
    argv.push('-netdev', netdev(slots, iface, inputs.hostForwards, node.hostSubnet));
    // romfile= (none): no iPXE option ROM, so OVMF neither loads nor tries network boot on lab NICs.
    argv.push('-device', pciNic(netId(iface), iface.mac, i, UEFI_NIC_FIRST_SLOT, { romfile: '' }));
  });
  return { node: node.name, binary: inputs.binary ?? QEMU_BINARY, argv, fdSlots: slots.list, ...(shares.length > 0 ? { shares } : {}) };
}
