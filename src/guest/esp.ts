// A bootable EFI system partition holding the default guest as a unified kernel image (UKI), for kind: uefi
// nodes: systemd-boot's EFI stub + .cmdline/.linux/.initrd sections (objcopy), in a FAT32 image built
// with mtools (no root, no loop device). Cached beside the guest entry it is made from.
import { access, copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { TopoError } from '../errors.js';
import { guestCacheDir, sha256 } from './cache.js';
import { GUEST_KERNEL_ARGS } from './config.js';
import { ensureGuest } from './index.js';

export const EFI_STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';
/** Bump when the image's layout changes for the same guest, stub and command line. */
export const ESP_VERSION = 1;
/**
 * The default guest's arguments as on microvm: none is microvm-specific (q35 has the same ttyS0; reboot=t and
 * panic=-1 end QEMU under -no-reboot). No tsc_early_khz: it is host-specific and this image is not, and q35's
 * HPET-backed calibration did not need it here.
 */
export const ESP_KERNEL_ARGS = GUEST_KERNEL_ARGS.join(' ');

const MiB = 1 << 20;
/** FAT32 with 512-byte clusters needs ~65525 clusters: 34 MiB is the smallest size mformat -F accepts with margin. */
const MIN_IMAGE_MIB = 34;

export interface PeLayout {
  readonly imageBase: bigint;
  readonly sectionAlignment: number;
  /** First RVA past every section (and SizeOfImage), not yet aligned. */
  readonly end: number;
}

/** Reads what objcopy needs from a PE32+ image: where new sections may go. */
export function peLayout(pe: Buffer): PeLayout {
  const bad = (why: string) => new TopoError(`EFI stub is not a PE32+ image: ${why}`, { code: 'E_ESP', hint: 'reinstall it: apt-get install --reinstall systemd-boot-efi' });
  if (pe.length < 0x40 || pe.toString('latin1', 0, 2) !== 'MZ') throw bad('no MZ header');
  const peOff = pe.readUInt32LE(0x3c);
  if (pe.length < peOff + 24 || pe.toString('latin1', peOff, peOff + 4) !== 'PE\0\0') throw bad('no PE signature');
  const sections = pe.readUInt16LE(peOff + 6);
  const optSize = pe.readUInt16LE(peOff + 20);
  const opt = peOff + 24;
  if (pe.readUInt16LE(opt) !== 0x20b) throw bad('not PE32+');
  const imageBase = pe.readBigUInt64LE(opt + 24);
  const sectionAlignment = pe.readUInt32LE(opt + 32);
  let end = pe.readUInt32LE(opt + 56); // SizeOfImage
  for (let i = 0, sh = opt + optSize; i < sections; i++, sh += 40) {
    const virtualSize = pe.readUInt32LE(sh + 8);
    const rva = pe.readUInt32LE(sh + 12);
    const rawSize = pe.readUInt32LE(sh + 16);
    end = Math.max(end, rva + Math.max(virtualSize, rawSize));
  }
  if (!sectionAlignment || (sectionAlignment & (sectionAlignment - 1)) !== 0) throw bad(`section alignment ${sectionAlignment}`);
  return { imageBase, sectionAlignment, end };
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

/** objcopy arguments adding each section at the next aligned VMA past the stub's last section. */
export function ukiObjcopyArgs(layout: PeLayout, sections: readonly { name: string; file: string; bytes: number }[], stub: string, out: string): string[] {
  const args: string[] = [];
  let rva = alignUp(layout.end, layout.sectionAlignment);
  for (const s of sections) {
    const vma = layout.imageBase + BigInt(rva);
    args.push('--add-section', `${s.name}=${s.file}`, '--change-section-vma', `${s.name}=0x${vma.toString(16)}`);
    rva = alignUp(rva + s.bytes, layout.sectionAlignment);
  }
  return [...args, stub, out];
}

export interface EspResult {
  /** The copy at OUT. */
  readonly path: string;
  /** The cached image it was copied from. */
  readonly cacheFile: string;
  readonly bytes: number;
  /** false when this call built the image. */
  readonly cached: boolean;
}

export interface EspOptions {
  /** Rebuild the image even when it is cached (the guest itself is only rebuilt when stale). */
  readonly force?: boolean;
  readonly onProgress?: (message: string) => void;
}

/** Builds (or reuses) the default guest's ESP image and copies it to `out`. */
export async function buildEsp(out: string, opts: EspOptions = {}): Promise<EspResult> {
  const { cacheFile, cached } = await espImage(opts);
  const dest = resolve(out);
  await mkdir(dirname(dest), { recursive: true });
  await copyFile(cacheFile, dest);
  return { path: dest, cacheFile, bytes: (await stat(dest)).size, cached };
}

/**
 * The cached ESP image itself (built on first use), for uefi nodes without a disk: boot it read-only (snapshot).
 * It lives in the guest's cache entry, so a caller holding that entry (a lab's ensureGuest) keeps it in place.
 */
export async function espImage(opts: EspOptions = {}): Promise<{ cacheFile: string; cached: boolean }> {
  const progress = opts.onProgress ?? (() => {});
  await access(EFI_STUB).catch(() => {
    throw new TopoError(`systemd-boot's EFI stub ${EFI_STUB} not found`, { code: 'E_ESP_TOOL', hint: 'install it: apt-get install systemd-boot-efi' });
  });
  await using guest = await ensureGuest({ onProgress: opts.onProgress });
  const stub = await readFile(EFI_STUB);
  const key = sha256(JSON.stringify([ESP_VERSION, guest.dir, sha256(stub), ESP_KERNEL_ARGS])).slice(0, 16);
  const cacheFile = join(guest.dir, `esp-${key}.img`);
  let cached = true;
  if (opts.force || !(await stat(cacheFile).then((s) => s.isFile(), () => false))) {
    cached = false;
    progress('building the EFI system partition image');
    const tmp = await mkdtemp(join(guestCacheDir(), '.tmp-esp-'));
    try {
      const uki = join(tmp, 'BOOTX64.EFI');
      const cmdline = join(tmp, 'cmdline');
      await writeFile(cmdline, ESP_KERNEL_ARGS);
      const sections = [
        { name: '.cmdline', file: cmdline, bytes: Buffer.byteLength(ESP_KERNEL_ARGS) },
        { name: '.linux', file: guest.bzImage, bytes: (await stat(guest.bzImage)).size },
        { name: '.initrd', file: guest.initrd, bytes: (await stat(guest.initrd)).size },
      ];
      await tool('objcopy', ukiObjcopyArgs(peLayout(stub), sections, EFI_STUB, uki), 'binutils');
      const image = join(tmp, 'esp.img');
      const mib = Math.max(MIN_IMAGE_MIB, Math.ceil((await stat(uki)).size / MiB) + 8);
      await writeFile(image, Buffer.alloc(0));
      await truncate(image, mib * MiB);
      await tool('mformat', ['-i', image, '-F', '-v', 'TOPOESP', '::'], 'mtools');
      await tool('mmd', ['-i', image, '::/EFI', '::/EFI/BOOT'], 'mtools');
      await tool('mcopy', ['-i', image, uki, '::/EFI/BOOT/BOOTX64.EFI'], 'mtools');
      // rename() publishes atomically: a concurrent build's result is equivalent, so the last one wins harmlessly.
      await rename(image, cacheFile);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  return { cacheFile, cached };
}

async function tool(name: string, args: string[], pkg: string): Promise<void> {
  // MTOOLS_SKIP_CHECK: mtools refuses some geometries of plain image files otherwise.
  // execa is loaded on use: importing it costs ~0.1 s of every topo command's start.
  const r = await (await import('execa')).execa(name, args, { reject: false, env: { MTOOLS_SKIP_CHECK: '1', LC_ALL: 'C' } });
  if (r.exitCode === 0) return;
  const notFound = r.exitCode === undefined;
  throw new TopoError(notFound ? `${name} not found (needed to build the ESP image)` : `${name} failed with exit code ${r.exitCode}`, {
    code: notFound ? 'E_ESP_TOOL' : 'E_ESP',
    hint: notFound ? `install it: apt-get install ${pkg}` : 'see the tool\'s message',
    stderrTail: String(r.stderr).trim().split('\n').slice(-5).join('\n'),
  });
}
