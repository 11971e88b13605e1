// `topo guest build` and `topo up` while the default guest is being built, with fake apt tools on PATH:
// Ctrl-C stops the download and leaves nothing behind; apt's errors are labelled as apt's.
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { topo, type TopoChild } from '../helpers/cli.js';
import { fakeAptBin } from '../helpers/fake-apt.js';
import { retry } from '../helpers/wait.js';

const fakeQemu = fileURLToPath(new URL('../fixtures/fake-qemu.mjs', import.meta.url));
let base: string;
let env: Record<string, string>;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'topo-guestcli-'));
  env = {
    PATH: `${await fakeAptBin(join(base, 'bin'))}:${process.env.PATH}`,
    TOPO_CACHE_DIR: join(base, 'cache'),
    FAKE_APT_PIDFILE: join(base, 'apt.pids'),
  };
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The fake apt-get's pid and its child's, once it runs (or the CLI exits first: a failure). */
async function aptPids(child: TopoChild): Promise<number[]> {
  let exited = false;
  void child.then(() => (exited = true));
  const pids = await retry(
    async () => {
      const text = await readFile(join(base, 'apt.pids'), 'utf8').catch(() => '');
      return /^\d+ \d+\n/.test(text) ? text.trim().split(' ').map(Number) : exited ? [] : undefined;
    },
    { what: 'the fake apt-get to run', timeoutMs: 25_000, intervalMs: 50 },
  );
  if (pids.length === 0) throw new Error(`topo exited before apt-get ran:\n${(await child).all}`);
  return pids;
}

const cacheLeftovers = async () => (await readdir(join(base, 'cache', 'guest')).catch(() => [] as string[])).filter((n) => n !== 'apt-inputs.json');

describe('Ctrl-C during the default guest build', () => {
  it('topo guest build: stops apt-get, removes the half-built entry, one line, exit 130', async () => {
    const child = topo(['guest', 'build'], { ...env, FAKE_APT_GET: 'slow' });
    const pids = await aptPids(child);
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(130);
    expect(r.stderr.trim().split('\n').at(-1)).toBe('topo: error: stopped before the default guest was built');
    expect(pids.filter(running)).toEqual([]);
    expect(await cacheLeftovers()).toEqual([]);
  });

  it('topo up: stops the build instead of finishing it, exit 0, nothing left', async () => {
    const file = join(base, 'lab.yaml');
    await writeFile(file, 'name: guestcli\nnodes:\n  a: {}\n');
    const child = topo(['up', file, '--run-dir', base], { ...env, FAKE_APT_GET: 'slow', TOPO_QEMU: fakeQemu });
    const pids = await aptPids(child);
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(0);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(pids.filter(running)).toEqual([]);
    expect(await cacheLeftovers()).toEqual([]);
  });
});

describe('topo guest build errors', () => {
  it('without a mirror for new package versions: keeps the cached guest, says so, exit 0', async () => {
    expect((await topo(['guest', 'build'], env)).exitCode).toBe(0);
    await rm(join(base, 'cache', 'guest', 'apt-inputs.json'));
    const r = await topo(['guest', 'build'], { ...env, FAKE_APT_ABI: '6.1.0-99', FAKE_APT_GET: 'fail' });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/^topo: cannot download linux-image-6\.1\.0-99-cloud-amd64: .*; using the cached default guest built \S+ \(kernel 6\.1\.0-98-cloud-amd64\)$/m);
    expect(r.stdout).toMatch(/^kept the cached default guest: kernel 6\.1\.0-98-cloud-amd64,/);
  });

  it("prints apt-get's stderr under its own label", async () => {
    const r = await topo(['guest', 'build'], { ...env, FAKE_APT_GET: 'fail' });
    expect(r.exitCode).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toBe('topo: downloading linux-image-6.1.0-98-cloud-amd64');
    expect(lines[1]).toMatch(/^topo: error: cannot download linux-image-6\.1\.0-98-cloud-amd64: .*\(run: apt-get update\)$/);
    expect(lines[2]).toBe('  apt-get stderr:');
    expect(lines[3]).toMatch(/^ {4}E: Failed to fetch .*Could not connect/);
    expect(r.stderr).not.toMatch(/qemu/);
  });
});
