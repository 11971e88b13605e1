import { describe, expect, it } from 'vitest';
import { lz4Block, lz4LegacyDecode } from '../../src/guest/vmlinux.js';

describe('LZ4 legacy decoding', () => {
  it('decodes literals, overlapping matches and long lengths', () => {
    const lit = Buffer.alloc(20, 'L');
    const block = Buffer.concat([
      Buffer.from([0x35]), Buffer.from('abc'), Buffer.from([3, 0]), // "abc" then 9 bytes copied from 3 back
      Buffer.from([0xf0, 5]), lit, // last sequence: 15 + 5 = 20 literals
    ]);
    const out = Buffer.alloc(32);
    expect(lz4Block(block, 0, block.length, out, 0)).toBe(32);
    expect(out.toString()).toBe(`abcabcabcabc${'L'.repeat(20)}`);

    const frame = Buffer.alloc(8 + block.length);
    frame.writeUInt32LE(0x184c2102, 0);
    frame.writeUInt32LE(block.length, 4);
    block.copy(frame, 8);
    expect(lz4LegacyDecode(frame, 32).equals(out)).toBe(true);
    expect(() => lz4LegacyDecode(frame, 33)).toThrow(/expected 33/);
  });
});
