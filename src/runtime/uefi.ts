// Per-launch resources of a uefi node: a private OVMF variable store and the disk's format (the plan stays pure).
import { open, readFile } from 'node:fs/promises';
import { TopoError } from '../errors.js';
import type { DiskFormat } from '../qemu/plan.js';
import type { ResolvedNode } from '../topology/model.js';
import type { RunDir } from './rundir.js';

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';

const QCOW2_MAGIC = Buffer.from('QFI\xfb', 'latin1');

/** qcow2 by its magic, else raw (QEMU's own probing is disabled for safety when format= is missing). */
export async function detectDiskFormat(file: string): Promise<DiskFormat> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    return bytesRead === 4 && head.equals(QCOW2_MAGIC) ? 'qcow2' : 'raw';
  } finally {
    await fh.close();
  }
}

export async function prepareUefi(node: ResolvedNode, runDir: RunDir): Promise<{ firmware: { code: string; vars: string }; diskFormat: DiskFormat }> {
  // OVMF writes boot entries into its variable store: each node needs its own copy, fresh per run.
  const template = await readFile(OVMF_VARS).catch((err: unknown) => {
    throw new TopoError(`cannot read ${OVMF_VARS}: ${(err as Error).message}`, { code: 'E_NO_OVMF', node: node.name, hint: 'apt-get install ovmf', cause: err });
  });
  const vars = await runDir.createFile(`${node.name}.vars.fd`, template);
  // swtpm keeps its state here across restarts; created now so it is a fresh directory of ours, not something found.
  if (node.tpm) await runDir.createDir(`${node.name}.tpm`);
  const disk = node.disk!;
  const diskFormat = await detectDiskFormat(disk).catch((err: unknown) => {
    throw new TopoError(`cannot read disk ${disk}: ${(err as Error).message}`, { code: 'E_UNREADABLE', node: node.name, hint: `check the path and permissions of ${disk}`, cause: err });
  });
  return { firmware: { code: OVMF_CODE, vars }, diskFormat };
}
