import { afterEach, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readdir, rm, truncate, writeFile, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BZIMAGE_FILE, INITRD_FILE, MANIFEST_FILE, MANIFEST_FORMAT, cacheKey, cacheRoot, fileRecord, newestEntry, publish,
  verifyEntry, type GuestManifest,
} from '../../src/guest/cache.js';
import { recipeHash } from '../../src/guest/index.js';

const inputs = { kernelPackage: 'linux-image-6.1.0-56-cloud-amd64', kernelPackageVersion: '6.1.192-2', busyboxVersion: '1:1.35.0-4' };
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'topo-cache-'));
  dirs.push(d);
  return d;
}

/** A fake but well-formed entry: 100 KiB "kernel" (larger than the 64 KiB head) and an initrd. */
async function fakeEntry(dir: string, key = 'k1', recipe = 'r1'): Promise<GuestManifest> {
  await mkdir(dir, { recursive: true });
  const kernel = Buffer.alloc(100 * 1024, 7);
  const initrd = Buffer.from('initrd bytes');
  await writeFile(join(dir, BZIMAGE_FILE), kernel);
  await writeFile(join(dir, INITRD_FILE), initrd);
  const m: GuestManifest = {
    format: MANIFEST_FORMAT, key, recipe, inputs, kernelVersion: '6.1.0-56-cloud-amd64', kernelPackageVersion: '6.1.192-2',
    busyboxVersion: '1:1.35.0-4', modules: [], kernel: fileRecord(BZIMAGE_FILE, kernel), bzImage: fileRecord(BZIMAGE_FILE, kernel),
    initrd: fileRecord(INITRD_FILE, initrd), builtAt: new Date().toISOString(),
  };
  await writeFile(join(dir, MANIFEST_FILE), JSON.stringify(m));
  return m;
}

describe('cache key', () => {
  it('changes whenever an input or the recipe changes', () => {
    const base = cacheKey(inputs, 'r1');
    expect(cacheKey({ ...inputs }, 'r1')).toBe(base);
    expect(cacheKey({ ...inputs, kernelPackage: 'linux-image-6.1.0-57-cloud-amd64' }, 'r1')).not.toBe(base);
    expect(cacheKey({ ...inputs, kernelPackageVersion: '6.1.193-1' }, 'r1')).not.toBe(base);
    expect(cacheKey({ ...inputs, busyboxVersion: '1:1.36' }, 'r1')).not.toBe(base);
    expect(cacheKey(inputs, 'r2')).not.toBe(base);
    expect(base).toMatch(/^6\.1\.0-56-cloud-amd64-[0-9a-f]{16}$/);
  });

  it('hashes the guest scripts into the recipe', async () => {
    expect(await recipeHash()).toMatch(/^[0-9a-f]{16}$/);
  });

  it('lives under TOPO_CACHE_DIR, else XDG_CACHE_HOME/topo, else ~/.cache/topo', () => {
    expect(cacheRoot({ TOPO_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x' })).toBe('/c');
    expect(cacheRoot({ XDG_CACHE_HOME: '/x' })).toBe('/x/topo');
    expect(cacheRoot({})).toMatch(/\.cache\/topo$/);
  });
});

describe('cache entry verification', () => {
  it('accepts an intact entry and checks key and recipe', async () => {
    const dir = join(await tmp(), 'e');
    await fakeEntry(dir);
    expect(await verifyEntry(dir, { full: true, key: 'k1', recipe: 'r1' })).toBeDefined();
    expect(await verifyEntry(dir, { key: 'other' })).toBeUndefined();
    expect(await verifyEntry(dir, { recipe: 'other' })).toBeUndefined();
  });

  it('detects truncation, a changed head, a changed tail (full check) and a bad manifest', async () => {
    const root = await tmp();
    const a = join(root, 'a');
    await fakeEntry(a);
    await truncate(join(a, BZIMAGE_FILE), 1000);
    expect(await verifyEntry(a)).toBeUndefined();

    const b = join(root, 'b');
    await fakeEntry(b);
    await poke(join(b, BZIMAGE_FILE), 10);
    expect(await verifyEntry(b)).toBeUndefined();

    const c = join(root, 'c');
    await fakeEntry(c);
    await poke(join(c, BZIMAGE_FILE), 90 * 1024); // past the head: only the full hash sees it
    expect(await verifyEntry(c)).toBeDefined();
    expect(await verifyEntry(c, { full: true })).toBeUndefined();

    const d = join(root, 'd');
    await fakeEntry(d);
    await writeFile(join(d, MANIFEST_FILE), '{"format":');
    expect(await verifyEntry(d)).toBeUndefined();
    expect(await verifyEntry(join(root, 'missing'))).toBeUndefined();
  });
});

describe('publish', () => {
  it('keeps an intact winner, replaces a corrupt entry, and leaves no temp dirs', async () => {
    const root = await tmp();
    const final = join(root, 'k1');
    const m1 = await fakeEntry(join(root, '.tmp-1'));
    await publish(root, join(root, '.tmp-1'), final, 'k1');
    const m2 = await fakeEntry(join(root, '.tmp-2'));
    await publish(root, join(root, '.tmp-2'), final, 'k1');
    // The first build won; the loser's staged dir is left for its caller's cleanup.
    expect((await verifyEntry(final))?.builtAt).toBe(m1.builtAt);

    await truncate(join(final, INITRD_FILE), 1);
    await rm(join(root, '.tmp-2'), { recursive: true });
    await fakeEntry(join(root, '.tmp-3'));
    await publish(root, join(root, '.tmp-3'), final, 'k1');
    expect(await verifyEntry(final, { full: true })).toBeDefined();
    expect((await readdir(root)).sort()).toEqual(['k1']);
    expect(m2.key).toBe('k1');
    expect((await newestEntry(root, 'r1'))?.dir).toBe(final);
    expect(await newestEntry(root, 'r-other')).toBeUndefined();
  });
});

async function poke(file: string, at: number): Promise<void> {
  const fh = await open(file, 'r+');
  await fh.write(Buffer.from([0xee]), 0, 1, at);
  await fh.close();
}
