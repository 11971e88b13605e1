import { afterEach, describe, expect, it } from 'vitest';
import { copyFile, mkdir, mkdtemp, open, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BZIMAGE_FILE, INITRD_FILE, MANIFEST_FILE, MANIFEST_FORMAT, cacheKey, cacheRoot, fileRecord, findEntry, newestEntry,
  verifyEntry, xxh64File, type GuestManifest,
} from '../../src/guest/cache.js';
import { recipeHash } from '../../src/guest/index.js';
import { liveRefs, processStart, prune, publish, refIsLive } from '../../src/guest/refs.js';
import { execa } from 'execa';
import xxhash from 'xxhash-wasm';

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
async function fakeEntry(dir: string, key = 'k1', recipe = 'r1', builtAt = new Date().toISOString()): Promise<GuestManifest> {
  await mkdir(dir, { recursive: true });
  const kernel = Buffer.alloc(100 * 1024, 7);
  const initrd = Buffer.from('initrd bytes');
  await writeFile(join(dir, BZIMAGE_FILE), kernel);
  await writeFile(join(dir, INITRD_FILE), initrd);
  const m: GuestManifest = {
    format: MANIFEST_FORMAT, key, recipe, inputs, kernelVersion: '6.1.0-56-cloud-amd64', kernelPackageVersion: '6.1.192-2',
    busyboxVersion: '1:1.35.0-4', modules: [], kernel: await fileRecord(BZIMAGE_FILE, kernel), bzImage: await fileRecord(BZIMAGE_FILE, kernel),
    initrd: await fileRecord(INITRD_FILE, initrd), builtAt,
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
    expect(await verifyEntry(dir, { key: 'k1', recipe: 'r1' })).toBeDefined();
    expect(await verifyEntry(dir, { key: 'other' })).toBeUndefined();
    expect(await verifyEntry(dir, { recipe: 'other' })).toBeUndefined();
  });

  it('records sha256 and xxHash64 of the whole file', async () => {
    expect(await fileRecord('f', Buffer.alloc(0))).toEqual({
      file: 'f', bytes: 0, sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', xxh64: 'ef46db3751d8e999',
    });
    // Past 1 MiB it is hashed in slices: same digest as in one piece, and as the file streamed from disk.
    const big = Buffer.alloc((3 << 20) + 5, 'topo');
    const whole = (await xxhash()).h64Raw(big).toString(16).padStart(16, '0');
    expect((await fileRecord('f', big)).xxh64).toBe(whole);
    const file = join(await tmp(), 'big');
    await writeFile(file, big);
    expect(await xxh64File(file)).toBe(whole);
  });

  it('verifies entries built before xxh64 was recorded by their sha256', async () => {
    const dir = join(await tmp(), 'e');
    const m = await fakeEntry(dir);
    const old = (r: GuestManifest['kernel']) => ({ file: r.file, bytes: r.bytes, sha256: r.sha256 });
    await writeFile(join(dir, MANIFEST_FILE), JSON.stringify({ ...m, kernel: old(m.kernel), bzImage: old(m.bzImage), initrd: old(m.initrd) }));
    expect(await verifyEntry(dir)).toBeDefined();
    await poke(join(dir, BZIMAGE_FILE), 90 * 1024);
    expect(await verifyEntry(dir)).toBeUndefined();
  });

  it('detects truncation, a changed head, a changed byte past the first 64 KiB and a bad manifest', async () => {
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
    await poke(join(c, BZIMAGE_FILE), 90 * 1024); // a same-size change deep in the file: only a whole-file hash sees it
    expect(await verifyEntry(c)).toBeUndefined();

    const d = join(root, 'd');
    await fakeEntry(d);
    await writeFile(join(d, MANIFEST_FILE), '{"format":');
    expect(await verifyEntry(d)).toBeUndefined();
    expect(await verifyEntry(join(root, 'missing'))).toBeUndefined();
  });
});

describe('publish and prune', () => {
  it('replaces an unused entry in place, goes beside one in use, and prunes only unused entries', async () => {
    const root = await tmp();
    const final = join(root, 'k1');
    await fakeEntry(join(root, '.tmp-1'), 'k1', 'r1', '2026-01-01T00:00:00.000Z');
    const first = await publish(root, join(root, '.tmp-1'), 'k1');
    expect(first.dir).toBe(final);
    expect(await liveRefs(final)).toHaveLength(1);

    // In use: the rebuild goes beside it and the lookup prefers it (newest build).
    const m2 = await fakeEntry(join(root, '.tmp-2'), 'k1', 'r1', '2026-01-02T00:00:00.000Z');
    const second = await publish(root, join(root, '.tmp-2'), 'k1');
    expect(second.dir).toMatch(/\/k1\+[0-9a-f]{8}$/);
    expect(await verifyEntry(final)).toBeDefined();
    expect((await findEntry(root, { key: 'k1' }))?.dir).toBe(second.dir);
    expect((await newestEntry(root, 'r1'))?.manifest.builtAt).toBe(m2.builtAt);
    expect(await newestEntry(root, 'r-other')).toBeUndefined();

    // Released: the next publish replaces it in place, and pruning removes what nobody uses.
    await first.release();
    await first.release();
    expect(await liveRefs(final)).toEqual([]);
    await fakeEntry(join(root, '.tmp-3'), 'k1', 'r1', '2026-01-03T00:00:00.000Z');
    const third = await publish(root, join(root, '.tmp-3'), 'k1');
    expect(third.dir).toBe(final);
    await prune(root, third.dir);
    expect((await readdir(root)).sort()).toEqual(['k1', second.dir.split('/').pop()!].sort());
    await second.release();
    await prune(root, third.dir);
    expect(await readdir(root)).toEqual(['k1']);
    await third.release();
  });

  it('a reference of a process that is gone (or a reused pid) does not keep an entry', async () => {
    const root = await tmp();
    await fakeEntry(join(root, 'old'));
    await mkdir(join(root, 'old', 'refs'));
    await writeFile(join(root, 'old', 'refs', `${process.pid}-1-00000000`), '');
    await writeFile(join(root, 'old', 'refs', '999999999-5-00000000'), '');
    await prune(root, join(root, 'keep'));
    expect(await readdir(root)).toEqual([]);
  });
});

describe('process references', () => {
  it('reads the start time after the command name, whatever characters the name holds', async () => {
    const dir = await tmp();
    const odd = join(dir, 'a) (b c');
    await copyFile('/bin/sleep', odd);
    const child = execa(odd, ['30'], { reject: false });
    try {
      const start = Number(await processStart(child.pid!));
      // Started after this process and before now (/proc/uptime in seconds, start time in clock ticks of 1/100 s).
      const uptimeTicks = Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]) * 100;
      expect(start).toBeGreaterThanOrEqual(Number(await processStart(process.pid)));
      expect(start).toBeLessThanOrEqual(uptimeTicks + 1);
      expect(await refIsLive(`${child.pid}-${start}-abcd`)).toBe(true);
      expect(await refIsLive(`${child.pid}-${start + 1}-abcd`)).toBe(false);
    } finally {
      child.kill('SIGKILL');
      await child;
    }
    expect(await processStart(child.pid!)).toBeUndefined();
    expect(await refIsLive('not-a-ref')).toBe(false);
  });
});

async function poke(file: string, at: number): Promise<void> {
  const fh = await open(file, 'r+');
  await fh.write(Buffer.from([0xee]), 0, 1, at);
  await fh.close();
}
