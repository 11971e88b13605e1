// pcapng blocks (little-endian, microsecond timestamps): one section header, one interface per link endpoint,
// enhanced packet blocks that name the interface a frame came from. Hand-written: npm has pcapng parsers, no writer.

import { LINKTYPE_ETHERNET, PCAP_SNAPLEN } from './pcap.js';

const SHB = 0x0a0d0d0a;
const IDB = 0x00000001;
const EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const OPT_END = 0;
const SHB_USERAPPL = 4;
const IF_NAME = 2;

const pad4 = (n: number): number => (n + 3) & ~3;

/** Options as TLVs: code, length, value padded to 32 bits, then opt_endofopt. */
function options(opts: [code: number, value: string][]): Buffer {
  const parts = opts.map(([code, value]) => {
    const v = Buffer.from(value, 'utf8');
    const b = Buffer.alloc(4 + pad4(v.length));
    b.writeUInt16LE(code, 0);
    b.writeUInt16LE(v.length, 2);
    v.copy(b, 4);
    return b;
  });
  return Buffer.concat([...parts, Buffer.alloc(4, OPT_END)]);
}

/** type, total length, body, total length again. */
function block(type: number, body: Buffer): Buffer {
  const total = 12 + body.length;
  const b = Buffer.alloc(total);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(total, 4);
  body.copy(b, 8);
  b.writeUInt32LE(total, total - 4);
  return b;
}

export function pcapngSectionHeader(app = 'topo'): Buffer {
  const fixed = Buffer.alloc(16);
  fixed.writeUInt32LE(BYTE_ORDER_MAGIC, 0);
  fixed.writeUInt16LE(1, 4);
  fixed.writeUInt16LE(0, 6);
  // Section length -1: not known in advance (a stream).
  fixed.writeBigInt64LE(-1n, 8);
  return block(SHB, Buffer.concat([fixed, options([[SHB_USERAPPL, app]])]));
}

/** Interface ids are assigned in the order these blocks are written, from 0. */
export function pcapngInterface(name: string, snaplen = PCAP_SNAPLEN): Buffer {
  const fixed = Buffer.alloc(8);
  fixed.writeUInt16LE(LINKTYPE_ETHERNET, 0);
  fixed.writeUInt32LE(snaplen, 4);
  return block(IDB, Buffer.concat([fixed, options([[IF_NAME, name]])]));
}

/** One frame as an Enhanced Packet Block, copied (callers may reuse their buffer), truncated to the snaplen. */
export function pcapngPacket(ifId: number, epochMs: number, frame: Uint8Array, snaplen = PCAP_SNAPLEN): Buffer {
  const incl = Math.min(frame.length, snaplen);
  const total = 32 + pad4(incl);
  const b = Buffer.allocUnsafe(total);
  const us = BigInt(Math.round(epochMs * 1000));
  b.writeUInt32LE(EPB, 0);
  b.writeUInt32LE(total, 4);
  b.writeUInt32LE(ifId, 8);
  b.writeUInt32LE(Number(us >> 32n), 12);
  b.writeUInt32LE(Number(us & 0xffffffffn), 16);
  b.writeUInt32LE(incl, 20);
  b.writeUInt32LE(frame.length, 24);
  b.set(frame.subarray(0, incl), 28);
  b.fill(0, 28 + incl, total - 4);
  b.writeUInt32LE(total, total - 4);
  return b;
}
