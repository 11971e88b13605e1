// up() and the default guest's cache entry: a lab references it from boot to teardown (or failure),
// so a rebuild meanwhile goes beside it. Fake QEMU and fake apt tools: no VM, no network.
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureGuest, up } from '../../src/index.js';
import { verifyEntry } from '../../src/guest/cache.js';
import { topo } from '../helpers/cli.js';
import { fakeAptBin } from '../helpers/fake-apt.js';

const fake = fileURLToPath(new URL('../fixtures/fake-qemu.mjs', import.meta.url));
const saved = { ...process.env };
let base: string;
let file: string;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'topo-labguest-'));
  process.env.PATH = `${await fakeAptBin(join(base, 'bin'))}:${saved.PATH}`;
  Object.assign(process.env, { TOPO_CACHE_DIR: join(base, 'cache'), TOPO_QEMU: fake, FAKE_QEMU_SAY: 'topo-guest: ready' });
  file = join(base, 'lab.yaml');
  await writeFile(file, 'name: labguest\nnodes:\n  a: { host_network: false }\n');
});
afterEach(async () => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
  await rm(base, { recursive: true, force: true });
});

const refsOf = (dir: string) => readdir(join(dir, 'refs')).catch(() => [] as string[]);

describe('a lab and its guest cache entry', () => {
  it('holds a reference while running, so `topo guest build --force` builds beside it; down() drops it', async () => {
    const lab = await up(file, { accel: 'tcg', runDirBase: base });
    const probe = await ensureGuest();
    await probe.release();
    expect(await refsOf(probe.dir)).toHaveLength(1);
    const kernel = await readFile(probe.kernel);
    // Another process (`topo guest build --force` while the lab runs): a new entry beside, ours untouched.
    const r = await topo(['guest', 'build', '--force'], { PATH: process.env.PATH!, TOPO_CACHE_DIR: process.env.TOPO_CACHE_DIR! });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^built default guest: /);
    expect(r.stdout).toContain(`  ${probe.dir}+`);
    expect(await readFile(probe.kernel)).toEqual(kernel);
    expect(await verifyEntry(probe.dir)).toBeDefined();
    await lab.down();
    expect(await refsOf(probe.dir)).toEqual([]);
  });

  it('drops the reference when up() fails', async () => {
    process.env.FAKE_QEMU_MODE = 'crash';
    await expect(up(file, { accel: 'tcg', runDirBase: base })).rejects.toMatchObject({ code: 'E_QEMU_EXIT' });
    const probe = await ensureGuest();
    expect(await refsOf(probe.dir)).toHaveLength(1);
    await probe.release();
  });
});
