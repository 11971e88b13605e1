// Files between the host and a guest through the agent: stdin carries the bytes up (base64 on the wire, so
// binary safe), `cat` brings them down byte-exact; the mode travels beside them. Shared by the copy step and `topo cp`.
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TopoError } from '../errors.js';
import type { NodeHandle } from '../runtime/handles.js';

/** The agent's request line holds the whole file; beyond this a copy is refused rather than slow. */
export const MAX_COPY_BYTES = 64 * 1024 * 1024;

// Written beside the target and renamed: a failed copy never leaves half a file under the real name.
// Exported: the lab's journal knows a cp by these scripts (src/control/record.ts).
export const UPLOAD_SCRIPT = 'set -e; t="$1.topo-cp.$$"; cat > "$t"; chmod "$2" "$t"; mv -f "$t" "$1"';
export const DOWNLOAD_HEAD_SCRIPT = 'test -f "$1" || { echo "not a regular file" >&2; exit 1; }; stat -c "%a %s" "$1"';

const tail = (b: Buffer) => b.toString('utf8').trim().split('\n').slice(-3).join(' / ');

export async function upload(node: NodeHandle, local: string, guestPath: string, timeout = 60_000): Promise<number> {
  let st;
  try {
    st = await stat(local);
  } catch (err) {
    throw new TopoError(`cannot read ${local}: ${(err as Error).message}`, { code: 'E_READ' });
  }
  if (!st.isFile()) throw new TopoError(`${local} is not a regular file; copy takes one file`, { code: 'E_READ' });
  if (st.size > MAX_COPY_BYTES) throw new TopoError(`${local} is ${st.size} bytes; copy takes files up to ${MAX_COPY_BYTES}`, { code: 'E_LIMIT' });
  const data = await readFile(local);
  const mode = (st.mode & 0o7777).toString(8);
  const r = await node.exec(['sh', '-c', UPLOAD_SCRIPT, 'sh', guestPath, mode], { stdin: data, timeout });
  if (r.timedOut) throw new TopoError(`copy to ${node.name}:${guestPath} timed out`, { code: 'E_TIMEOUT', node: node.name });
  if (r.exitCode !== 0) throw new TopoError(`cannot write ${guestPath} in ${node.name}: ${tail(r.stderr) || `exit ${r.exitCode}`}`, { code: 'E_COPY', node: node.name });
  return data.length;
}

export async function download(node: NodeHandle, guestPath: string, local: string, timeout = 60_000): Promise<number> {
  const head = await node.exec(['sh', '-c', DOWNLOAD_HEAD_SCRIPT, 'sh', guestPath], { timeout });
  if (head.exitCode !== 0) throw new TopoError(`cannot read ${node.name}:${guestPath}: ${tail(head.stderr) || `exit ${head.exitCode}`}`, { code: 'E_COPY', node: node.name });
  const [mode, size] = head.stdout.toString().trim().split(' ');
  if (Number(size) > MAX_COPY_BYTES) throw new TopoError(`${node.name}:${guestPath} is ${size} bytes; copy takes files up to ${MAX_COPY_BYTES}`, { code: 'E_LIMIT', node: node.name });
  const r = await node.exec(['cat', guestPath], { timeout });
  if (r.timedOut || r.exitCode !== 0) throw new TopoError(`cannot read ${node.name}:${guestPath}: ${tail(r.stderr) || (r.timedOut ? 'timed out' : `exit ${r.exitCode}`)}`, { code: 'E_COPY', node: node.name });
  await mkdir(path.dirname(local), { recursive: true });
  await writeFile(local, r.stdout);
  await chmod(local, Number.parseInt(mode ?? '644', 8) & 0o7777);
  return r.stdout.length;
}
