// A node's `files:` as one newc archive, handed to the guest through fw_cfg "opt/topo/files" (one fw_cfg
// entry whatever the number of files: QEMU has 32 slots on microvm). guest/init.sh unpacks it over /.
import { readFile, stat } from 'node:fs/promises';
import { TopoError } from '../errors.js';
import type { GuestFile, ResolvedNode } from '../topology/model.js';
import { writeNewc, type CpioEntry } from './cpio.js';

export const FILES_FW_CFG_NAME = 'opt/topo/files';
/** fw_cfg entries live in QEMU's memory, once per node: keep them small (shares: are for big trees). */
export const MAX_FILES_BYTES = 16 * 1024 * 1024;

async function content(node: string, f: GuestFile): Promise<{ data: Buffer; mode: number }> {
  if ('string' in f.source) return { data: Buffer.from(f.source.string, 'utf8'), mode: f.mode ?? 0o644 };
  const file = f.source.file;
  try {
    const [data, st] = await Promise.all([readFile(file), stat(file)]);
    return { data, mode: f.mode ?? ((st.mode & 0o111) !== 0 ? 0o755 : 0o644) };
  } catch (err) {
    throw new TopoError(`files ${f.path}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { code: 'E_FILE_UNREADABLE', node, hint: `check the path and permissions of ${file}`, cause: err });
  }
}

/** The archive of a node's files, or undefined when it has none. */
export async function filesArchive(node: ResolvedNode): Promise<Buffer | undefined> {
  if (!node.files || node.files.length === 0) return undefined;
  const entries: CpioEntry[] = [];
  let total = 0;
  for (const f of node.files) {
    const { data, mode } = await content(node.name, f);
    total += data.length;
    entries.push({ type: 'file', path: f.path, data, mode });
  }
  if (total > MAX_FILES_BYTES) {
    throw new TopoError(`files: ${total} bytes in all, more than the ${MAX_FILES_BYTES} topo passes through fw_cfg`, { code: 'E_FILES_TOO_BIG', node: node.name, hint: 'put big files in a package or share their directory with shares:' });
  }
  return writeNewc(entries);
}
