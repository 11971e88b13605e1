// Minimal writer for the "newc" cpio format the kernel unpacks as an initramfs.
// Hand-written on purpose: no maintained npm package writes newc (the ones that exist only read it,
// or pull in a tar stack), and the format is ~60 lines: a 110-byte ASCII header, the NUL-terminated
// name padded to 4 bytes, the data padded to 4 bytes, and a "TRAILER!!!" entry at the end.

export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; data: Buffer; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'char'; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`cpio field out of range: ${n}`);
  return n.toString(16).padStart(8, '0');
}

function pad4(len: number): Buffer {
  return Buffer.alloc((4 - (len % 4)) % 4);
}

interface RawEntry {
  name: string;
  mode: number;
  nlink: number;
  data: Buffer;
  rdevMajor: number;
  rdevMinor: number;
}

function header(ino: number, e: RawEntry, nameSize: number): Buffer {
  // Fields: ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check.
  // uid/gid 0 and mtime 0 keep the archive reproducible (same inputs, same bytes, same hash).
  const fields = [ino, e.mode, 0, 0, e.nlink, 0, e.data.length, 0, 0, e.rdevMajor, e.rdevMinor, nameSize, 0];
  return Buffer.from(`070701${fields.map(hex8).join('')}`, 'ascii');
}

function toRaw(e: CpioEntry): RawEntry {
  // The kernel wants names relative to the root, without a leading slash.
  const name = e.path.replace(/^\/+/, '');
  if (name === '' || name.split('/').includes('..')) throw new Error(`bad cpio path: ${e.path}`);
  const base = { name, rdevMajor: 0, rdevMinor: 0 };
  switch (e.type) {
    case 'dir':
      return { ...base, mode: S_IFDIR | (e.mode ?? 0o755), nlink: 2, data: Buffer.alloc(0) };
    case 'file':
      return { ...base, mode: S_IFREG | (e.mode ?? 0o644), nlink: 1, data: e.data };
    case 'symlink':
      return { ...base, mode: S_IFLNK | 0o777, nlink: 1, data: Buffer.from(e.target, 'utf8') };
    case 'char':
      return { ...base, mode: S_IFCHR | (e.mode ?? 0o600), nlink: 1, data: Buffer.alloc(0), rdevMajor: e.major, rdevMinor: e.minor };
  }
}

/** Serialises entries (parents before children, in the given order) into one newc archive. */
export function writeNewc(entries: Iterable<CpioEntry>): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const push = (e: RawEntry) => {
    const name = Buffer.from(`${e.name}\0`, 'utf8');
    const head = header(ino++, e, name.length);
    parts.push(head, name, pad4(head.length + name.length), e.data, pad4(e.data.length));
  };
  for (const e of entries) push(toRaw(e));
  push({ name: 'TRAILER!!!', mode: 0, nlink: 1, data: Buffer.alloc(0), rdevMajor: 0, rdevMinor: 0 });
  return Buffer.concat(parts);
}
