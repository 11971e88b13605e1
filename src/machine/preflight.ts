// Checks that must pass before any resource is taken or any VM starts.
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { TopoError } from '../errors.js';
import { QEMU_BINARY } from '../qemu/plan.js';
import type { ResolvedNode, ResolvedTopology } from '../topology/model.js';
import { SWTPM_BINARY } from './swtpm.js';
import { OVMF_CODE, OVMF_VARS } from './uefi.js';

export function qemuBinary(): string {
  return process.env.TOPO_QEMU || QEMU_BINARY;
}

/** PATH lookup without a shell. */
export async function findExecutable(name: string): Promise<string | undefined> {
  const candidates = name.includes('/') ? [name] : (process.env.PATH ?? '').split(':').filter(Boolean).map((d) => path.join(d, name));
  for (const file of candidates) {
    if (await access(file, constants.X_OK).then(() => true, () => false)) return file;
  }
  return undefined;
}

export async function preflight(topology: ResolvedTopology): Promise<void> {
  if (!(await findExecutable(qemuBinary()))) {
    throw new TopoError(`${qemuBinary()} not found on PATH`, {
      code: 'E_NO_QEMU',
      hint: 'install it: apt-get install qemu-system-x86 (or set TOPO_QEMU to the binary)',
    });
  }
  if (!(await findExecutable('setpriv'))) {
    throw new TopoError('setpriv not found on PATH (needed so no VM outlives topo)', {
      code: 'E_NO_SETPRIV',
      hint: 'install it: apt-get install util-linux',
    });
  }
  for (const node of topology.nodes) {
    if (node.kind === 'uefi') await preflightUefi(node);
    for (const [what, file] of [['kernel', node.kernel], ['initrd', node.initrd], ['disk', node.disk]] as const) {
      if (file && !(await can(file, constants.R_OK))) {
        throw new TopoError(`${what} ${file} is not readable`, { code: 'E_UNREADABLE', node: node.name, hint: `check the path and permissions of ${file}` });
      }
    }
  }
}

const can = (file: string, mode: number) => access(file, mode).then(() => true, () => false);

async function preflightUefi(node: ResolvedNode): Promise<void> {
  for (const file of [OVMF_CODE, OVMF_VARS]) {
    if (!(await can(file, constants.R_OK))) {
      throw new TopoError(`UEFI firmware ${file} not found`, { code: 'E_NO_OVMF', node: node.name, hint: 'install it: apt-get install ovmf' });
    }
  }
  if (node.tpm && !(await findExecutable(SWTPM_BINARY))) {
    throw new TopoError('swtpm not found on PATH (needed for tpm: true)', { code: 'E_NO_SWTPM', node: node.name, hint: 'install it: apt-get install swtpm' });
  }
  if (node.persist && node.disk && (await can(node.disk, constants.R_OK)) && !(await can(node.disk, constants.W_OK))) {
    throw new TopoError(`disk ${node.disk} is not writable (persist: true writes to it)`, { code: 'E_UNWRITABLE', node: node.name, hint: `check the permissions of ${node.disk}, or drop persist` });
  }
}
