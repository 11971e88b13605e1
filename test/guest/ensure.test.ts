// ensureGuest() end to end against fake apt-cache/apt-get/dpkg-deb: references keep entries of running
// labs, prune and --force respect them, a failed download falls back, and Ctrl-C (abort) stops the build.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyEntry } from '../../src/guest/cache.js';
import { ensureGuest } from '../../src/guest/index.js';
import { TopoError } from '../../src/errors.js';
import { errorLines } from '../../src/ui/format.js';
import { fakeAptBin } from '../helpers/fake-apt.js';
import { isRunning } from '../helpers/proc.js';
import { retry } from '../helpers/wait.js';

const saved = { ...process.env };
let base: string;
let cache: string;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'topo-ensure-'));
  cache = join(base, 'cache', 'guest');
  process.env.PATH = `${await fakeAptBin(join(base, 'bin'))}:${saved.PATH}`;
  process.env.TOPO_CACHE_DIR = join(base, 'cache');
});
afterEach(async () => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
  await rm(base, { recursive: true, force: true });
});

/** New package lists: apt now offers kernel ABI `abi`. */
async function newLists(abi: string): Promise<void> {
  process.env.FAKE_APT_ABI = abi;
  await rm(join(cache, 'apt-inputs.json'), { force: true });
}

const refsOf = (dir: string) => readdir(join(dir, 'refs')).catch(() => [] as string[]);
const leftovers = async () => (await readdir(cache)).filter((n) => n.startsWith('.'));

describe('ensureGuest references', () => {
  it('builds, reuses the entry, and counts one reference per use until released', async () => {
    const a = await ensureGuest();
    expect(a.cached).toBe(false);
    expect(a.kernelVersion).toBe('6.1.0-98-cloud-amd64');
    const b = await ensureGuest();
    expect(b).toMatchObject({ cached: true, dir: a.dir });
    expect(await refsOf(a.dir)).toHaveLength(2);
    await a.release();
    await b[Symbol.asyncDispose]();
    expect(await refsOf(a.dir)).toEqual([]);
    expect(await leftovers()).toEqual([]);
  });

  it('two builds at once agree on one entry', async () => {
    const [x, y] = await Promise.all([ensureGuest(), ensureGuest()]);
    expect(x.dir).toBe(y.dir);
    expect([x.cached, y.cached]).toContain(false);
    expect((await readdir(cache)).filter((n) => n !== 'apt-inputs.json')).toEqual([x.dir.split('/').pop()]);
    await x.release();
    await y.release();
  });

  it('a lock left by a crashed topo is taken over once stale', async () => {
    await mkdir(join(cache, '.lock'), { recursive: true });
    const past = new Date(Date.now() - 60_000);
    await utimes(join(cache, '.lock'), past, past);
    const g = await ensureGuest();
    expect(g.cached).toBe(false);
    await g.release();
    expect(await leftovers()).toEqual([]);
  });

  it('verifies the whole kernel on use: a change past the first 64 KiB is rebuilt', async () => {
    const a = await ensureGuest();
    await a.release();
    const fh = await open(a.kernel, 'r+');
    await fh.write(Buffer.from('X'), 0, 1, 100 * 1024);
    await fh.close();
    const b = await ensureGuest();
    expect(b.cached).toBe(false);
    expect(await verifyEntry(b.dir)).toBeDefined();
    await b.release();
  });

  it('--force builds beside an entry in use and never touches its files', async () => {
    const a = await ensureGuest();
    const kernelBefore = await readFile(a.kernel);
    const b = await ensureGuest({ force: true });
    expect(b.cached).toBe(false);
    expect(b.dir).not.toBe(a.dir);
    expect(await readFile(a.kernel)).toEqual(kernelBefore);
    expect(await verifyEntry(a.dir)).toBeDefined();
    // The newest build serves new users; once unused, the old entry is replaced in place.
    const c = await ensureGuest();
    expect(c.dir).toBe(b.dir);
    await a.release();
    const d = await ensureGuest({ force: true });
    expect(d.dir).toBe(a.dir);
    expect(await verifyEntry(b.dir)).toBeDefined();
    for (const g of [b, c, d]) await g.release();
  });

  it('new package versions prune only the entries nobody uses (a dead process does not count)', async () => {
    await newLists('6.1.0-97');
    const inUse = await ensureGuest();
    await newLists('6.1.0-98');
    const unused = await ensureGuest();
    await unused.release();
    await mkdir(join(unused.dir, 'refs'), { recursive: true });
    await writeFile(join(unused.dir, 'refs', '999999999-5-00000000'), '');
    await newLists('6.1.0-99');
    const fresh = await ensureGuest();
    expect(fresh.kernelVersion).toBe('6.1.0-99-cloud-amd64');
    expect(await verifyEntry(inUse.dir)).toBeDefined();
    expect(existsSync(unused.dir)).toBe(false);
    await inUse.release();
    await fresh.release();
  });
});

describe('ensureGuest on a cache this user cannot write', () => {
  it('uses an intact entry as it is (no reference, no lock)', async () => {
    const built = await ensureGuest();
    await built.release();
    // The cache belongs to another user; the reader is root without capabilities (no DAC override), so it
    // can still read the repository wherever it was cloned (nobody could not enter a 0700 mktemp parent).
    await execa('chown', ['-R', '65534:65534', join(base, 'cache')]);
    const script = join(base, 'use.mts');
    await writeFile(script, `import { ensureGuest } from ${JSON.stringify(fileURLToPath(new URL('../../src/guest/index.ts', import.meta.url)))};
const g = await ensureGuest();
await g.release();
console.log(JSON.stringify({ dir: g.dir, cached: g.cached }));\n`);
    const r = await execa('setpriv', ['--bounding-set=-all', '--inh-caps=-all', process.execPath, '--import', 'tsx', script], {
      cwd: fileURLToPath(new URL('../../', import.meta.url)),
      env: { PATH: process.env.PATH, TOPO_CACHE_DIR: process.env.TOPO_CACHE_DIR },
      extendEnv: false,
      reject: false,
    });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ dir: built.dir, cached: true });
    expect(await leftovers()).toEqual([]);
  });
});

describe('ensureGuest without a mirror', () => {
  it('falls back to the newest intact entry with one notice when the new packages cannot be downloaded', async () => {
    const old = await ensureGuest();
    await old.release();
    await newLists('6.1.0-99');
    process.env.FAKE_APT_GET = 'fail';
    const notices: string[] = [];
    const g = await ensureGuest({ onNotice: (m) => notices.push(m) });
    expect(g).toMatchObject({ dir: old.dir, cached: true, kernelVersion: '6.1.0-98-cloud-amd64' });
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(
      /^cannot download linux-image-6\.1\.0-99-cloud-amd64: .*; using the cached default guest built \d{4}-\d\d-\d\d \(kernel 6\.1\.0-98-cloud-amd64\)$/,
    );
    expect(await leftovers()).toEqual([]);
    await g.release();
    // --force asks for a new build: no fallback.
    await expect(ensureGuest({ force: true })).rejects.toMatchObject({ code: 'E_GUEST_DOWNLOAD' });
  });

  it("labels apt-get's stderr as apt-get's, not QEMU's", async () => {
    process.env.FAKE_APT_GET = 'fail';
    const err = (await ensureGuest().catch((e: unknown) => e)) as TopoError;
    expect(err).toBeInstanceOf(TopoError);
    expect(err).toMatchObject({ code: 'E_GUEST_DOWNLOAD', stderrSource: 'apt-get' });
    const lines = errorLines(err);
    expect(lines).toContain('  apt-get stderr:');
    expect(lines.join('\n')).toMatch(/Could not connect to deb\.debian\.org/);
    expect(lines.join('\n')).not.toMatch(/qemu/);
  });
});

/** Resolves with the fake apt-get's "<pid> <child pid>" once it is running. */
async function fakeAptPids(file: string): Promise<number[]> {
  const text = await retry(async () => /^\d+ \d+\n/.exec(await readFile(file, 'utf8').catch(() => ''))?.input, { what: 'the fake apt-get to run', timeoutMs: 25_000, intervalMs: 20 });
  return text.trim().split(' ').map(Number);
}

describe('ensureGuest aborted', () => {
  it('kills apt-get and its children, removes the temp directory, writes no entry, rejects with E_ABORTED', async () => {
    process.env.FAKE_APT_GET = 'slow';
    process.env.FAKE_APT_PIDFILE = join(base, 'apt.pids');
    const abort = new AbortController();
    const build = ensureGuest({ signal: abort.signal });
    const pids = await fakeAptPids(join(base, 'apt.pids'));
    expect(pids.every(isRunning)).toBe(true);
    expect((await readdir(cache)).some((n) => n.startsWith('.tmp-'))).toBe(true);
    abort.abort();
    await expect(build).rejects.toMatchObject({ code: 'E_ABORTED', message: 'stopped before the default guest was built' });
    expect(pids.filter(isRunning)).toEqual([]);
    expect((await readdir(cache)).filter((n) => n !== 'apt-inputs.json')).toEqual([]);
  });

  it('an already aborted signal rejects before anything runs', async () => {
    const abort = new AbortController();
    abort.abort();
    await expect(ensureGuest({ signal: abort.signal })).rejects.toMatchObject({ code: 'E_ABORTED' });
    expect(existsSync(cache)).toBe(false);
  });
});
