// Files between the host and a guest through the agent: stdin carries the bytes up (base64 on the wire, so
// binary safe), `head -c` brings them down byte-exact and bounded. Shared by the copy step and `topo cp`.
// Up, the mode is kept. Down, the guest chose the bytes and the mode, so the host behaves as `cp` without -p:
// permission bits masked by the umask, never setuid/setgid/sticky, and the destination is replaced (a temp
// file renamed over it), never written through a symlink.
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { TopoError } from '../errors.js';
import { downloadBodyArgv, DOWNLOAD_HEAD_SCRIPT, MAX_COPY_BYTES, UPLOAD_SCRIPT } from '../guest/copy-scripts.js';
import type { NodeHandle } from '../api/handles.js';

export { MAX_COPY_BYTES } from '../guest/copy-scripts.js';

const tail = (b: Buffer) => b.toString('utf8').trim().split('\n').slice(-3).join(' / ');
const tooLarge = (what: string, size: number | string, node?: string) =>
  new TopoError(`${what} is ${size} bytes; copy takes files up to 64 MiB (${MAX_COPY_BYTES} bytes)`, { code: 'E_TOO_LARGE', node, hint: 'put larger files in a share' });

export async function upload(node: NodeHandle, local: string, guestPath: string, timeout = 60_000): Promise<number> {
  let st;
  try {
    st = await stat(local);
  } catch (err) {
    throw new TopoError(`cannot read ${local}: ${(err as Error).message}`, { code: 'E_READ' });
  }
  if (!st.isFile()) throw new TopoError(`${local} is not a regular file; copy takes one file`, { code: 'E_READ' });
  if (st.size > MAX_COPY_BYTES) throw tooLarge(local, st.size);
  const data = await readFile(local);
  const mode = (st.mode & 0o7777).toString(8);
  const r = await node.exec(['sh', '-c', UPLOAD_SCRIPT, 'sh', guestPath, mode], { stdin: data, timeout });
  if (r.timedOut) throw new TopoError(`copy to ${node.name}:${guestPath} timed out`, { code: 'E_TIMEOUT', node: node.name });
  if (r.exitCode !== 0) throw new TopoError(`cannot write ${guestPath} in ${node.name}: ${tail(r.stderr) || `exit ${r.exitCode}`}`, { code: 'E_COPY', node: node.name });
  return data.length;
}

/** Where a download lands: into `local` when it is a directory (or ends with "/"), as `cp` does; else `local` itself. */
async function target(local: string, guestPath: string): Promise<string> {
  const st = await lstat(local).catch(() => undefined);
  return local.endsWith('/') || st?.isDirectory() ? path.join(local, path.posix.basename(guestPath)) : local;
}

export async function download(node: NodeHandle, guestPath: string, local: string, timeout = 60_000): Promise<number> {
  const what = `${node.name}:${guestPath}`;
  // -L: a symlink's target decides, for the size check and for the mode.
  const head = await node.exec(['sh', '-c', DOWNLOAD_HEAD_SCRIPT, 'sh', guestPath], { timeout });
  if (head.exitCode !== 0) throw new TopoError(`cannot read ${what}: ${tail(head.stderr) || `exit ${head.exitCode}`}`, { code: 'E_COPY', node: node.name });
  const [mode, size] = head.stdout.toString().trim().split(' ');
  if (!(Number(size) <= MAX_COPY_BYTES)) throw tooLarge(what, size ?? '?', node.name);
  const r = await node.exec(downloadBodyArgv(guestPath), { timeout }).catch((err: unknown) => {
    throw err instanceof TopoError && err.code === 'E_OUTPUT_LIMIT' ? tooLarge(what, `over ${MAX_COPY_BYTES}`, node.name) : err;
  });
  if (r.timedOut || r.exitCode !== 0) throw new TopoError(`cannot read ${what}: ${tail(r.stderr) || (r.timedOut ? 'timed out' : `exit ${r.exitCode}`)}`, { code: 'E_COPY', node: node.name });
  if (r.stdout.length > MAX_COPY_BYTES) throw tooLarge(what, `over ${MAX_COPY_BYTES}`, node.name);
  const dest = await target(local, guestPath);
  try {
    await writeReplacing(dest, r.stdout, Number.parseInt(mode ?? '644', 8) & 0o777);
  } catch (err) {
    throw new TopoError(`cannot write ${dest}: ${(err as Error).message}`, { code: 'E_WRITE', node: node.name });
  }
  return r.stdout.length;
}

/** A new file under a random name beside `dest` (O_EXCL: no link is followed), renamed over it: a link there is replaced. */
async function writeReplacing(dest: string, data: Buffer, mode: number): Promise<void> {
  const dir = path.dirname(dest);
  await mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(dest)}.topo-cp-${randomBytes(6).toString('hex')}`);
  // The kernel masks `mode` with the umask on creation, as `cp` without -p does.
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.close();
    if ((await lstat(dest).catch(() => undefined))?.isDirectory()) throw new Error('it is a directory');
    await rename(tmp, dest);
  } catch (err) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
}
