// Builds one default-guest cache entry (kernel, initramfs, manifest) in a private temp directory.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildInitramfs, findKernel, readGuestScripts } from './initramfs.js';
import { BZIMAGE_FILE, INITRD_FILE, MANIFEST_FILE, MANIFEST_FORMAT, VMLINUX_FILE, fileRecord, type GuestManifest } from './cache.js';
import { BUSYBOX_PACKAGE, checkAborted, downloadPackage, unpackPackage, type GuestInputs } from './packages.js';
import { extractVmlinux } from './vmlinux.js';

/** Bump when the builder's output changes for the same inputs and scripts (it is part of the recipe). */
export const BUILDER_VERSION = 4;

/** Whether the kernel has a PVH entry point (QEMU can then boot the ELF vmlinux directly). */
async function hasPvh(kernelRoot: string, release: string): Promise<boolean> {
  const config = join(kernelRoot, 'boot', `config-${release}`);
  return existsSync(config) && /^CONFIG_PVH=y$/m.test(await readFile(config, 'utf8'));
}

/**
 * Downloads, unpacks and assembles into `tmp`; returns the complete entry directory (tmp/entry).
 * Aborting `signal` kills the running tool and rejects with E_ABORTED; the caller removes `tmp`.
 */
export async function buildEntry(tmp: string, inputs: GuestInputs, key: string, recipe: string, progress: (m: string) => void, signal?: AbortSignal): Promise<string> {
  const dl = join(tmp, 'dl');
  await mkdir(dl);
  progress(`downloading ${inputs.kernelPackage}`);
  const kernelDeb = await downloadPackage(inputs.kernelPackage, dl, signal);
  progress(`downloading ${BUSYBOX_PACKAGE}`);
  const busyboxDeb = await downloadPackage(BUSYBOX_PACKAGE, dl, signal);
  progress('unpacking packages');
  const kernelRoot = join(tmp, 'kernel');
  const kernelPackageVersion = await unpackPackage(kernelDeb, kernelRoot, signal);
  const busyboxVersion = await unpackPackage(busyboxDeb, join(tmp, 'busybox'), signal);
  const kernel = await findKernel(kernelRoot);

  checkAborted(signal);
  progress('writing initramfs');
  const { image, modules } = await buildInitramfs(kernel, join(tmp, 'busybox/bin/busybox'), await readGuestScripts());
  const entry = join(tmp, 'entry');
  await mkdir(entry);
  const bzImage = await readFile(kernel.vmlinuz);
  await writeFile(join(entry, BZIMAGE_FILE), bzImage);
  await writeFile(join(entry, INITRD_FILE), image);
  const bz = await fileRecord(BZIMAGE_FILE, bzImage);
  let boot = bz;
  if (await hasPvh(kernelRoot, kernel.release)) {
    checkAborted(signal);
    progress('extracting vmlinux');
    const elf = extractVmlinux(bzImage);
    if (elf) {
      await writeFile(join(entry, VMLINUX_FILE), elf);
      boot = await fileRecord(VMLINUX_FILE, elf);
    }
  }
  const manifest: GuestManifest = {
    format: MANIFEST_FORMAT,
    key,
    recipe,
    inputs,
    kernelVersion: kernel.release,
    kernelPackageVersion,
    busyboxVersion,
    modules,
    kernel: boot,
    bzImage: bz,
    initrd: await fileRecord(INITRD_FILE, image),
    builtAt: new Date().toISOString(),
  };
  // The manifest is written last: an entry without one is never considered intact.
  await writeFile(join(entry, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return entry;
}
