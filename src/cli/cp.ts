// `topo cp [LAB] NODE:PATH LOCAL` / `topo cp [LAB] LOCAL NODE:PATH`: files to and from a running node through the
// agent (binary safe), the same mechanism as a scenario's copy step. Modes: see src/scenario/copy.ts.
import path from 'node:path';
import { TopoError } from '../errors.js';
import { download, upload } from '../scenario/copy.js';
import { guestPath } from '../scenario/rules.js';
import { openClient, splitLab, type LabFlags } from './lab-args.js';

export async function cpCommand(words: string[], flags: LabFlags & { timeout?: string }): Promise<number> {
  const { lab, rest } = splitLab(words, 2, '[LAB] NODE:/PATH LOCAL or [LAB] LOCAL NODE:/PATH');
  const [src, dst] = rest as [string, string];
  const newline = [src, dst].find((w) => /^[a-z][a-z0-9-]{0,31}:\//.test(w) && w.includes('\n'));
  if (newline !== undefined) {
    throw new TopoError(`topo cp: the guest path ${JSON.stringify(newline)} contains a newline; topo cp takes paths without newlines`, { code: 'E_USAGE', hint: 'rename the file in the guest first (topo exec NODE -- mv ...)' });
  }
  const from = guestPath(src);
  const to = guestPath(dst);
  if (!!from === !!to) {
    const both = from ? 'both are guest paths' : /^[a-z][a-z0-9-]*:[^/]/.test(src) || /^[a-z][a-z0-9-]*:[^/]/.test(dst) ? 'the guest path must be absolute (NODE:/path)' : 'neither is a guest path';
    throw new TopoError(`topo cp copies between the host and a node: ${both}`, { code: 'E_USAGE', hint: 'topo cp r1:/etc/hostname ./hostname, or topo cp ./cfg r1:/tmp/cfg' });
  }
  const remote = await openClient(lab, flags);
  try {
    if (from) {
      // A trailing "/" means "into this directory", as for cp.
      const bytes = await download(remote.node(from.node), from.path, path.resolve(dst) + (dst.endsWith('/') ? '/' : ''));
      process.stderr.write(`${from.node}:${from.path} -> ${dst} (${bytes} bytes)\n`);
    } else if (to) {
      const bytes = await upload(remote.node(to.node), path.resolve(src), to.path);
      process.stderr.write(`${src} -> ${to.node}:${to.path} (${bytes} bytes)\n`);
    }
    return 0;
  } finally {
    await remote.close();
  }
}
