// QEMU's stream framing for `-netdev socket` / `-netdev stream`: 4-byte big-endian length, then the Ethernet frame.

/** The largest frame a length prefix may announce by default; beyond it the stream cannot be trusted to resync. */
export const MAX_FRAME_LEN = 65535;
/** QEMU's own receive buffer (NET_BUFSIZE = 4096 + 65536): no QEMU ever sends a larger frame. */
export const QEMU_MAX_FRAME_LEN = 65536 + 4096;
/** Shortest frame that carries an Ethernet header (destination, source, type). */
export const ETH_HEADER_LEN = 14;

/** The length limit for a link: 65,535, or more when the link's MTU plus header and VLAN tag needs it. */
export function maxFrameLenFor(mtu: number): number {
  return Math.min(QEMU_MAX_FRAME_LEN, Math.max(MAX_FRAME_LEN, mtu + ETH_HEADER_LEN + 4));
}

/** 802.1Q, 802.1ad (QinQ outer) and the older 0x9100 outer tag: each adds 4 bytes in front of the EtherType. */
const VLAN_TPIDS = new Set([0x8100, 0x88a8, 0x9100]);

/**
 * Whether a frame is longer than a link of this MTU carries: the MTU plus the Ethernet header, plus 4 bytes
 * for each VLAN tag the frame carries (up to two), as a VLAN interface on an MTU-1500 NIC sends 1518 bytes.
 */
export function exceedsMtu(frame: Uint8Array, mtu: number): boolean {
  let max = mtu + ETH_HEADER_LEN;
  if (frame.length <= max) return false;
  for (let off = 12; off <= 16 && frame.length >= off + 2 && VLAN_TPIDS.has((frame[off]! << 8) | frame[off + 1]!); off += 4) max += 4;
  return frame.length > max;
}

export class FramingError extends Error {
  override readonly name = 'FramingError';
  constructor(readonly length: number, readonly max = MAX_FRAME_LEN) {
    super(`frame length ${length} exceeds ${max}`);
  }
}

export function encodeFrame(frame: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + frame.length);
  out.writeUInt32BE(frame.length, 0);
  out.set(frame, 4);
  return out;
}

export function encodeHeader(length: number): Buffer {
  const h = Buffer.allocUnsafe(4);
  h.writeUInt32BE(length, 0);
  return h;
}

/**
 * Streaming decoder. Frames wholly inside one chunk are zero-copy views of it; a frame split
 * across chunks is copied exactly once into a buffer of its final size, so no re-concatenation.
 * Callers that mutate a frame must copy it first.
 */
export class FrameDecoder {
  private readonly header = Buffer.alloc(4);
  private headerFill = 0;
  private body: Buffer | null = null;
  private bodyFill = 0;
  private failed = false;

  constructor(
    private readonly onFrame: (frame: Buffer) => void,
    private readonly onError: (err: FramingError) => void,
    private readonly maxLen = MAX_FRAME_LEN,
  ) {}

  /** True while a partial frame is buffered (useful to detect truncation at EOF). */
  get pending(): boolean {
    return this.headerFill > 0 || this.body !== null;
  }

  push(chunk: Buffer): void {
    if (this.failed) return;
    let off = 0;
    const end = chunk.length;
    while (off < end) {
      if (this.body !== null) {
        const n = Math.min(this.body.length - this.bodyFill, end - off);
        chunk.copy(this.body, this.bodyFill, off, off + n);
        this.bodyFill += n;
        off += n;
        if (this.bodyFill === this.body.length) {
          const frame = this.body;
          this.body = null;
          this.onFrame(frame);
        }
        continue;
      }
      let len: number;
      if (this.headerFill === 0 && end - off >= 4) {
        len = chunk.readUInt32BE(off);
        off += 4;
      } else {
        const n = Math.min(4 - this.headerFill, end - off);
        chunk.copy(this.header, this.headerFill, off, off + n);
        this.headerFill += n;
        off += n;
        if (this.headerFill < 4) return;
        this.headerFill = 0;
        len = this.header.readUInt32BE(0);
      }
      if (len > this.maxLen) {
        this.failed = true;
        this.onError(new FramingError(len, this.maxLen));
        return;
      }
      if (end - off >= len) {
        // Hot path: the whole frame is in this chunk.
        const frame = chunk.subarray(off, off + len);
        off += len;
        this.onFrame(frame);
      } else {
        this.body = Buffer.allocUnsafe(len);
        this.bodyFill = 0;
      }
    }
  }
}
