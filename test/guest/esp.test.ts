import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { EFI_STUB, ESP_KERNEL_ARGS, peLayout, ukiObjcopyArgs } from '../../src/guest/esp.js';

/** A minimal PE32+ header: two sections, SectionAlignment 0x1000, ImageBase 0x10000000. */
function fakePe(): Buffer {
  const pe = Buffer.alloc(0x400);
  pe.write('MZ', 0, 'latin1');
  pe.writeUInt32LE(0x80, 0x3c);
  pe.write('PE\0\0', 0x80, 'latin1');
  pe.writeUInt16LE(2, 0x86); // sections
  pe.writeUInt16LE(240, 0x94); // optional header size
  const opt = 0x98;
  pe.writeUInt16LE(0x20b, opt);
  pe.writeBigUInt64LE(0x10000000n, opt + 24);
  pe.writeUInt32LE(0x1000, opt + 32);
  pe.writeUInt32LE(0x3000, opt + 56); // SizeOfImage
  const sh = opt + 240;
  // .text at 0x1000 (0x800 bytes), .data at 0x2000 with 0x1234 virtual bytes (past SizeOfImage on purpose)
  pe.writeUInt32LE(0x800, sh + 8); pe.writeUInt32LE(0x1000, sh + 12); pe.writeUInt32LE(0x800, sh + 16);
  pe.writeUInt32LE(0x1234, sh + 48); pe.writeUInt32LE(0x2000, sh + 52); pe.writeUInt32LE(0x200, sh + 56);
  return pe;
}

describe('UKI layout', () => {
  it('finds the end of the last section and the alignment', () => {
    expect(peLayout(fakePe())).toEqual({ imageBase: 0x10000000n, sectionAlignment: 0x1000, end: 0x3234 });
  });

  it('places each added section at the next aligned VMA', () => {
    const args = ukiObjcopyArgs(peLayout(fakePe()), [
      { name: '.cmdline', file: '/t/c', bytes: 10 },
      { name: '.linux', file: '/t/k', bytes: 0x1001 },
      { name: '.initrd', file: '/t/i', bytes: 5 },
    ], '/stub', '/out');
    expect(args).toEqual([
      '--add-section', '.cmdline=/t/c', '--change-section-vma', '.cmdline=0x10004000',
      '--add-section', '.linux=/t/k', '--change-section-vma', '.linux=0x10005000',
      '--add-section', '.initrd=/t/i', '--change-section-vma', '.initrd=0x10007000',
      '/stub', '/out',
    ]);
  });

  it('rejects what is not PE32+', () => {
    expect(() => peLayout(Buffer.alloc(0x100))).toThrow(/not a PE32\+ image/);
  });

  it('reads the installed systemd-boot stub', async () => {
    const layout = peLayout(await readFile(EFI_STUB));
    expect(layout.sectionAlignment).toBeGreaterThan(0);
    expect(layout.end).toBeGreaterThan(0x1000);
  });

  it('boots the default guest with its usual arguments on the serial console', () => {
    expect(ESP_KERNEL_ARGS.split(' ')).toEqual(expect.arrayContaining(['console=ttyS0', 'quiet', 'panic=-1']));
  });
});
