// Per-launch resources of a uefi node: a private OVMF variable store and the disk's format (the plan stays pure).
import { open, readFile, writeFile } from 'node:fs/promises';
import { TopoError } from '../errors.js';
import type { DiskFormat } from '../qemu/plan.js';
import type { ResolvedNode } from '../topology/model.js';
import type { MachineFiles } from './files.js';
import { prepareTpmState } from './swtpm.js';

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

export interface UefiInputs {
  firmware: { code: string; vars: string };
  diskFormat: DiskFormat;
  /** The default guest's ESP image, for a node without a disk of its own. */
  disk?: string;
}

/** `esp` builds (or finds) the default guest's ESP image: called only for a node without a disk. */
export async function prepareUefi(node: ResolvedNode, runDir: MachineFiles, esp?: () => Promise<string>): Promise<UefiInputs> {
  const code = node.firmware?.code ?? OVMF_CODE;
  const templateFile = node.firmware?.vars ?? OVMF_VARS;
  const template = await readFile(templateFile).catch((err: unknown) => {
    throw new TopoError(`cannot read ${templateFile}: ${(err as Error).message}`, { code: 'E_NO_OVMF', node: node.name, hint: node.firmware ? 'check firmware.vars' : 'apt-get install ovmf', cause: err });
  });
  // OVMF writes boot entries into its variable store: each node needs its own copy, fresh per run, unless it persists beside the disk.
  const vars = node.persist && node.disk ? await persistentVars(`${node.disk}.vars`, template) : await runDir.createFile(`${node.name}.vars.fd`, template);
  if (node.tpm) {
    // swtpm keeps its state here across restarts; created now so it is a fresh directory of ours, not something found.
    await runDir.createDir(`${node.name}.tpm`);
    await prepareTpmState(node.name, runDir.file(`${node.name}.tpm`), node.tpm.state);
  }
  const disk = node.disk ?? (await must(esp)());
  const diskFormat = await detectDiskFormat(disk).catch((err: unknown) => {
    throw new TopoError(`cannot read disk ${disk}: ${(err as Error).message}`, { code: 'E_UNREADABLE', node: node.name, hint: `check the path and permissions of ${disk}`, cause: err });
  });
  return { firmware: { code, vars }, diskFormat, ...(node.disk ? {} : { disk }) };
}

/** `<disk>.vars`, created from the template on first use (never overwritten: it holds the installed OS's boot entries). */
async function persistentVars(file: string, template: Buffer): Promise<string> {
  await writeFile(file, template, { flag: 'wx', mode: 0o600 }).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new TopoError(`cannot create the EFI variable store ${file}: ${(err as Error).message}`, { code: 'E_UNREADABLE', hint: 'check that the disk\'s directory is writable', cause: err });
  });
  return file;
}

function must<T>(v: T | undefined): T {
  if (v === undefined) throw new Error('prepareUefi: a node without a disk needs the ESP');
  return v;
}
