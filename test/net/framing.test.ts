import { describe, expect, it } from 'vitest';
import { FrameDecoder, FramingError, MAX_FRAME_LEN, encodeFrame } from '../../src/net/framing.js';
import { mulberry32 } from '../../src/net/rng.js';

function decodeAll(chunks: Buffer[]): { frames: Buffer[]; errors: FramingError[] } {
  const frames: Buffer[] = [];
  const errors: FramingError[] = [];
  const d = new FrameDecoder((f) => frames.push(Buffer.from(f)), (e) => errors.push(e));
  for (const c of chunks) d.push(c);
  return { frames, errors };
}

function randomFrames(rand: () => number, n: number): Buffer[] {
  return Array.from({ length: n }, () => {
    const r = rand();
    // Mostly small/MTU sized, some jumbo and a few edge sizes (empty, 1 byte, max).
    const len = r < 0.02 ? 0 : r < 0.04 ? 1 : r < 0.05 ? MAX_FRAME_LEN : r < 0.15 ? Math.floor(rand() * 9000) : Math.floor(rand() * 1600);
    const f = Buffer.allocUnsafe(len);
    for (let i = 0; i < len; i++) f[i] = Math.floor(rand() * 256);
    return f;
  });
}

function chunk(stream: Buffer, rand: () => number, maxChunk: number): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < stream.length; ) {
    const n = 1 + Math.floor(rand() * maxChunk);
    out.push(Buffer.from(stream.subarray(off, off + n)));
    off += n;
  }
  return out;
}

describe('framing', () => {
  it('encodes a 4-byte big-endian length then the frame', () => {
    const e = encodeFrame(Buffer.from([0xaa, 0xbb, 0xcc]));
    expect([...e]).toEqual([0, 0, 0, 3, 0xaa, 0xbb, 0xcc]);
  });

  it('decodes many frames from one chunk', () => {
    const frames = [Buffer.from('a'), Buffer.alloc(0), Buffer.from('hello'), Buffer.alloc(1500, 7)];
    const { frames: got, errors } = decodeAll([Buffer.concat(frames.map(encodeFrame))]);
    expect(errors).toEqual([]);
    expect(got).toEqual(frames);
  });

  it.each([1, 2, 3, 5, 7, 42])('survives any chunking (property, seed %i)', (seed) => {
    const rand = mulberry32(seed);
    const frames = randomFrames(rand, 300);
    const stream = Buffer.concat(frames.map(encodeFrame));
    // From byte-at-a-time to chunks spanning many frames.
    for (const maxChunk of [1, 3, 17, 1500, 70_000, 300_000]) {
      const { frames: got, errors } = decodeAll(chunk(stream, rand, maxChunk));
      expect(errors).toEqual([]);
      expect(got.length).toBe(frames.length);
      expect(Buffer.concat(got).equals(Buffer.concat(frames))).toBe(true);
      expect(got.map((f) => f.length)).toEqual(frames.map((f) => f.length));
    }
  });

  it('hands out whole-chunk frames as zero-copy views', () => {
    const chunkBuf = Buffer.concat([encodeFrame(Buffer.from('xyz')), encodeFrame(Buffer.from('q'))]);
    const views: Buffer[] = [];
    new FrameDecoder((f) => views.push(f), () => {}).push(chunkBuf);
    expect(views[0]!.buffer).toBe(chunkBuf.buffer);
  });

  it('reports an absurd length once and then ignores the stream', () => {
    const bad = Buffer.alloc(4);
    bad.writeUInt32BE(MAX_FRAME_LEN + 1);
    const { frames, errors } = decodeAll([encodeFrame(Buffer.from('ok')), bad.subarray(0, 2), bad.subarray(2), encodeFrame(Buffer.from('late'))]);
    expect(frames.map(String)).toEqual(['ok']);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.length).toBe(MAX_FRAME_LEN + 1);
  });

  it('tracks a partially received frame', () => {
    const d = new FrameDecoder(() => {}, () => {});
    const e = encodeFrame(Buffer.from('abcdef'));
    d.push(e.subarray(0, 2));
    expect(d.pending).toBe(true);
    d.push(e.subarray(2, 6));
    expect(d.pending).toBe(true);
    d.push(e.subarray(6));
    expect(d.pending).toBe(false);
  });
});
