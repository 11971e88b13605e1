// Minimal little-endian pcapng reader for tests: checks every block's framing while it walks them.

export interface NgInterface {
  linktype: number;
  snaplen: number;
  name?: string;
}

export interface NgPacket {
  ifId: number;
  tsUs: bigint;
  origLen: number;
  data: Buffer;
}

function optionsOf(buf: Buffer, off: number, end: number): Map<number, Buffer> {
  const opts = new Map<number, Buffer>();
  while (off + 4 <= end) {
    const code = buf.readUInt16LE(off);
    const len = buf.readUInt16LE(off + 2);
    if (code === 0) break;
    opts.set(code, buf.subarray(off + 4, off + 4 + len));
    off += 4 + ((len + 3) & ~3);
  }
  return opts;
}

export function readPcapng(buf: Buffer): { app?: string; interfaces: NgInterface[]; packets: NgPacket[] } {
  const interfaces: NgInterface[] = [];
  const packets: NgPacket[] = [];
  let app: string | undefined;
  for (let off = 0; off < buf.length; ) {
    const type = buf.readUInt32LE(off);
    const total = buf.readUInt32LE(off + 4);
    if (total % 4 !== 0 || off + total > buf.length || buf.readUInt32LE(off + total - 4) !== total) {
      throw new Error(`bad block at ${off}`);
    }
    const end = off + total - 4;
    if (type === 0x0a0d0d0a) {
      if (buf.readUInt32LE(off + 8) !== 0x1a2b3c4d) throw new Error('not little-endian pcapng');
      app = optionsOf(buf, off + 24, end).get(4)?.toString();
    } else if (type === 1) {
      interfaces.push({
        linktype: buf.readUInt16LE(off + 8),
        snaplen: buf.readUInt32LE(off + 12),
        name: optionsOf(buf, off + 16, end).get(2)?.toString(),
      });
    } else if (type === 6) {
      const incl = buf.readUInt32LE(off + 20);
      packets.push({
        ifId: buf.readUInt32LE(off + 8),
        tsUs: (BigInt(buf.readUInt32LE(off + 12)) << 32n) | BigInt(buf.readUInt32LE(off + 16)),
        origLen: buf.readUInt32LE(off + 24),
        data: Buffer.from(buf.subarray(off + 28, off + 28 + incl)),
      });
    }
    off += total;
  }
  return { app, interfaces, packets };
}
