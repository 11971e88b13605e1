// The builder against the real apt tooling: failures leave nothing behind, corrupt entries are rebuilt,
// concurrent builds agree, and the CLI prints what the contract says.
import { afterAll, describe, expect, it } from 'vitest';
import { cp, mkdir, mkdtemp, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGuest } from '../../src/guest/index.js';
import { topo } from '../helpers/cli.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'topo-guest-build-'));
  dirs.push(d);
  return d;
}

/** Entries in the guest cache apart from the apt memo: what a failed build must not leave. */
async function leftovers(cacheDir: string): Promise<string[]> {
  return (await readdir(join(cacheDir, 'guest')).catch(() => [] as string[])).filter((n) => n !== 'apt-inputs.json');
}

describe('topo guest build failures', () => {
  it('without package lists: one line naming the package and the fix, nothing written', async () => {
    const d = await tmp();
    const lists = join(d, 'lists');
    await mkdir(join(lists, 'partial'), { recursive: true });
    await writeFile(join(d, 'apt.conf'), `Dir::State::Lists "${lists}";\nDir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n`);
    const r = await topo(['guest', 'build'], { TOPO_CACHE_DIR: join(d, 'cache'), APT_CONFIG: join(d, 'apt.conf') });
    expect(r.exitCode).toBe(1);
    const errLines = String(r.stderr).trim().split('\n');
    expect(errLines).toHaveLength(1);
    expect(errLines[0]).toMatch(/^topo: error: cannot resolve linux-image-cloud-amd64: apt-get update has not been run.*\(run: apt-get update\)$/);
    expect(await leftovers(join(d, 'cache'))).toEqual([]);
  });

  it('with an unreachable mirror: names the package, nothing half-written in the cache', async () => {
    const d = await tmp();
    // Port 9 (discard) refuses connections: the download fails at once.
    await writeFile(join(d, 'apt.conf'), 'Acquire::http::Proxy "http://127.0.0.1:9";\nAcquire::https::Proxy "http://127.0.0.1:9";\nAcquire::Retries "0";\n');
    const r = await topo(['guest', 'build'], { TOPO_CACHE_DIR: join(d, 'cache'), APT_CONFIG: join(d, 'apt.conf') });
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toMatch(/^topo: error: cannot download linux-image-[0-9].*-cloud-amd64: apt-get update has not been run or the mirror is unreachable \(run: apt-get update\)\n  apt-get stderr:\n/m);
    expect(await leftovers(join(d, 'cache'))).toEqual([]);
  });
});

describe('guest cache', () => {
  it('detects a corrupt entry and rebuilds it, also with two builds at once', async () => {
    const good = await ensureGuest();
    await good.release();
    const d = await tmp();
    const saved = process.env.TOPO_CACHE_DIR;
    process.env.TOPO_CACHE_DIR = d;
    try {
      const copy = join(d, 'guest', good.dir.split('/').pop()!);
      await cp(good.dir, copy, { recursive: true });
      await using copied = await ensureGuest();
      expect(copied).toMatchObject({ cached: true, dir: copy });
      await copied.release();
      await truncate(join(copy, 'initrd.img'), 1000);
      const [x, y] = await Promise.all([ensureGuest(), ensureGuest()]);
      expect([x.cached, y.cached]).toContain(false);
      expect(x.initrd).toBe(y.initrd);
      expect(x.initrdBytes).toBe(good.initrdBytes);
      // Same inputs and recipe: the rebuild is byte-identical (reproducible initramfs).
      expect((await ensureGuest()).cached).toBe(true);
      expect((await readdir(join(d, 'guest'))).filter((n) => n.startsWith('.'))).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.TOPO_CACHE_DIR;
      else process.env.TOPO_CACHE_DIR = saved;
    }
  });

  it('topo guest info --json prints the contract fields', async () => {
    const r = await topo(['guest', 'info', '--json']);
    expect(r.exitCode).toBe(0);
    const info = JSON.parse(String(r.stdout)) as Record<string, unknown>;
    for (const k of ['kernel', 'initrd', 'kernelVersion', 'busyboxVersion', 'recipe', 'initrdBytes', 'cached']) expect(info).toHaveProperty(k);
    expect(info.cached).toBe(true);
    expect(typeof info.initrdBytes).toBe('number');
    const human = await topo(['guest', 'info']);
    expect(String(human.stdout)).toMatch(/^kernel: /);
  });
});
