// Checks that must pass before any resource is taken or any VM starts.
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { TopoError } from '../errors.js';
import { QEMU_BINARY } from '../qemu/plan.js';
import type { ResolvedTopology } from '../topology/model.js';

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
    if (node.kind === 'uefi') {
      throw new TopoError('uefi nodes are not supported by `topo up` yet', {
        code: 'E_UNSUPPORTED',
        node: node.name,
        hint: 'use kind: microvm for now',
      });
    }
    for (const [what, file] of [['kernel', node.kernel], ['initrd', node.initrd]] as const) {
      if (file && !(await access(file, constants.R_OK).then(() => true, () => false))) {
        throw new TopoError(`${what} ${file} is not readable`, { code: 'E_UNREADABLE', node: node.name, hint: `check the path and permissions of ${file}` });
      }
    }
  }
}
