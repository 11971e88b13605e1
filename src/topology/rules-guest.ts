// Rules of the default guest's software fields: packages, files, shares (issue 19).
import path from 'node:path';
import { pointer, subject } from './diagnostics.js';
import { isRecord } from './doc.js';
import type { RuleContext } from './rule-context.js';

type Add = (p: string, code: string, message: string, at?: 'key' | 'value') => void;

export const GUEST_SOFTWARE_FIELDS = ['packages', 'files', 'shares'] as const;

/** Why `p` is not an absolute, normalised guest path (undefined when it is one). */
export function guestPathProblem(p: string): string | undefined {
  const fixed = path.posix.normalize(`/${p}`).replace(/(.)\/$/, '$1');
  if (p === '/' || fixed === '/') return 'is the root directory; name a file or directory below it';
  if (!p.startsWith('/') || fixed !== p) return `a guest path must be absolute and normalised (no "..", ".", "//" or trailing "/"); write ${JSON.stringify(fixed)}`;
  if (/[\0\n]/.test(p)) return 'a guest path cannot hold a NUL or a newline';
  return undefined;
}

/** Value checks where the fields are written (defaults or a node). */
export function checkGuestValues(base: string, raw: Record<string, unknown>, ctx: RuleContext, add: Add): void {
  if (isRecord(raw.files)) {
    for (const [guest, v] of Object.entries(raw.files)) {
      const p = `${base}/files${pointer(guest)}`;
      const why = guestPathProblem(guest);
      if (why) add(p, 'E_GUEST_PATH', `files ${JSON.stringify(guest)}: ${why}`, 'key');
      const host = typeof v === 'string' ? v : isRecord(v) && typeof v.file === 'string' ? v.file : undefined;
      if (host === undefined || host === '') continue;
      const at = typeof v === 'string' ? p : `${p}/file`;
      const abs = path.resolve(ctx.dir, host);
      const kind = ctx.fileKind(abs);
      if (kind === 'missing') add(at, 'E_FILE_MISSING', `${subject(at, host)}: file not found (looked for ${abs}); paths are relative to the topology file`);
      else if (kind === 'directory') add(at, 'E_FILE_IS_DIR', `${subject(at, host)}: is a directory (${abs}); files: places single files, use shares: for a directory`);
    }
  }
  if (Array.isArray(raw.shares)) {
    const seen = new Set<string>();
    raw.shares.forEach((s, i) => {
      if (!isRecord(s)) return;
      const p = `${base}/shares/${i}`;
      if (typeof s.guest === 'string') {
        const why = guestPathProblem(s.guest);
        if (why) add(`${p}/guest`, 'E_GUEST_PATH', `share ${i + 1} guest ${JSON.stringify(s.guest)}: ${why}`);
        else if (seen.has(s.guest)) add(`${p}/guest`, 'E_SHARE_TWICE', `share ${i + 1}: ${s.guest} is the guest path of an earlier share too; give each share its own`);
        seen.add(s.guest);
      }
      if (typeof s.host === 'string' && s.host !== '') {
        const abs = path.resolve(ctx.dir, s.host);
        const kind = ctx.fileKind(abs);
        if (kind === 'missing') add(`${p}/host`, 'E_SHARE_MISSING', `share ${i + 1} host ${JSON.stringify(s.host)}: directory not found (looked for ${abs}); paths are relative to the topology file`);
        else if (kind === 'file') add(`${p}/host`, 'E_NOT_A_DIR', `share ${i + 1} host ${JSON.stringify(s.host)}: is a file (${abs}); a share is a directory (use files: for one file)`);
      }
    });
  }
}

/** On the merged node: the fields need topo's default guest. */
export function checkGuestKind(name: string, node: Record<string, unknown>, where: (field: string) => string, add: Add): void {
  const own = node.kind === 'uefi' ? (node.disk === undefined ? undefined : 'disk') : node.kernel === undefined ? undefined : 'kernel';
  if (own === undefined) return;
  for (const f of GUEST_SOFTWARE_FIELDS) {
    const v = node[f];
    if (v === undefined || (Array.isArray(v) && v.length === 0) || (isRecord(v) && Object.keys(v).length === 0)) continue;
    const why =
      own === 'kernel'
        ? `this node boots its own kernel, and topo installs ${f} into its default guest's file system (which this node does not run); put the software into your initrd, or remove kernel:`
        : `this node boots its own disk, and topo installs ${f} into its default guest's file system (which this node does not run); put the software on the disk, or remove disk:`;
    add(where(f), 'E_DEFAULT_GUEST_ONLY', `node ${name}: ${f} works only on the default guest: ${why}`, 'key');
  }
}
