// The lab lock (owner.json: pid + start time + boot id) and --keep: stale locks are recognised, kept runs are moved aside.
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireRunDir, KEPT_FILE, labOwner, OWNER_FILE } from '../../src/runtime/rundir.js';
import { processStartTime } from '../../src/host/proc-stat.js';

let base: string;
const bootId = async () => (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();

beforeEach(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-rundir-'));
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

/** A run directory left behind by someone, with the given lock record. */
async function leftBehind(lab: string, owner: object | undefined, extra: Record<string, string> = {}): Promise<string> {
  const dir = path.join(base, lab);
  await mkdir(dir, { mode: 0o700 });
  if (owner) await writeFile(path.join(dir, OWNER_FILE), JSON.stringify(owner));
  for (const [name, text] of Object.entries(extra)) await writeFile(path.join(dir, name), text);
  return dir;
}

describe('the lab lock', () => {
  it('a second acquire of a held lab names the live owner; after remove the lab is free', async () => {
    const run = await acquireRunDir('lab', base);
    expect(await labOwner(run.path)).toEqual({ pid: process.pid, startTime: await processStartTime(process.pid) });
    const err = await acquireRunDir('lab', base).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_LAB_RUNNING', message: `lab "lab" is already running (topo pid ${process.pid}, run directory ${run.path})` });
    await run.remove();
    expect(existsSync(run.path)).toBe(false);
    expect(await labOwner(run.path)).toBeUndefined();
    await (await acquireRunDir('lab', base)).remove();
  });

  it('a lock naming a live unrelated process (pid 1, another start time) is stale, not "already running"', async () => {
    const init = (await processStartTime(1))!;
    await leftBehind('lab', { pid: 1, startTime: init + 1, bootId: await bootId() }, { pid: '1\n' });
    const run = await acquireRunDir('lab', base);
    expect(await labOwner(run.path)).toMatchObject({ pid: process.pid });
    expect(await readdir(run.path)).toEqual([OWNER_FILE]);
    await run.remove();
  });

  it('a lock from before a reboot is stale even when the pid and start time match a live process', async () => {
    await leftBehind('lab', { pid: 1, startTime: await processStartTime(1), bootId: 'an-earlier-boot' });
    await (await acquireRunDir('lab', base)).remove();
  });

  it('a run directory without a lock record (never a live lab: it appears with one) is stale, never "starting"', async () => {
    await leftBehind('lab', undefined, { 'a.log': 'old' });
    const run = await acquireRunDir('lab', base);
    expect(await readdir(run.path)).toEqual([OWNER_FILE]);
    await run.remove();
  });

  it('the lock dies with its holder', async () => {
    const child = execa('sleep', ['60']);
    const record = { pid: child.pid!, startTime: await processStartTime(child.pid!), bootId: await bootId() };
    const dir = await leftBehind('lab', record);
    expect(await labOwner(dir)).toEqual({ pid: record.pid, startTime: record.startTime });
    await expect(acquireRunDir('lab', base)).rejects.toMatchObject({ code: 'E_LAB_RUNNING', hint: expect.stringContaining(`kill ${record.pid}`) });
    child.kill('SIGKILL');
    await child.catch(() => undefined);
    expect(await labOwner(dir)).toBeUndefined();
    await (await acquireRunDir('lab', base)).remove();
  });

  it('a holder that exited but was never reaped (a zombie under a PID 1 that does not reap) holds nothing', async () => {
    // perl (Essential on Debian) forks a child that exits at once and never waits for it: the child stays a zombie.
    // (A shell can't be trusted here: dash may reap its background job before it execs.)
    const parent = execa('perl', ['-e', '$| = 1; my $p = fork() // die; exit 0 unless $p; print "$p\n"; sleep 60'], { buffer: false });
    const zombie = Number(await new Promise<string>((resolve) => parent.stdout!.once('data', (b: Buffer) => resolve(b.toString()))));
    try {
      await expect.poll(async () => (await readFile(`/proc/${zombie}/stat`, 'utf8')).split(') ')[1]![0]).toBe('Z');
      const stat = await readFile(`/proc/${zombie}/stat`, 'utf8');
      const record = { pid: zombie, startTime: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]), bootId: await bootId() };
      const dir = await leftBehind('lab', record);
      expect(await processStartTime(zombie)).toBeUndefined();
      expect(await labOwner(dir)).toBeUndefined();
      await (await acquireRunDir('lab', base)).remove();
    } finally {
      parent.kill('SIGKILL');
      await parent.catch(() => undefined);
    }
  });
});

describe('--keep', () => {
  it('a kept run directory is moved aside by the next acquire, never deleted, and reported in one line', async () => {
    const kept = await acquireRunDir('lab', base, { keep: true });
    await kept.createFile('a.log', 'first run\n');
    await kept.release();
    expect(await readFile(kept.file('a.log'), 'utf8')).toBe('first run\n');
    expect(await labOwner(kept.path)).toBeUndefined();

    const next = await acquireRunDir('lab', base);
    expect(next.notice).toMatch(/^the kept run directory of an earlier run of lab "lab" was moved to .*\/lab\.kept-\d{8}T\d{6}Z$/);
    const moved = next.notice!.split(' ').at(-1)!;
    expect(await readFile(path.join(moved, 'a.log'), 'utf8')).toBe('first run\n');
    expect(await readdir(next.path)).toEqual([OWNER_FILE]);
    await next.release();
    expect(existsSync(next.path)).toBe(false);
    expect(existsSync(moved)).toBe(true);
  });

  it('the kept run of a topo that died is kept too; two from the same second get distinct names', async () => {
    const dead = { pid: 1, startTime: -1 };
    for (const text of ['one', 'two']) {
      const dir = await leftBehind('lab', dead, { [KEPT_FILE]: '', 'a.log': text });
      await utimes(path.join(dir, KEPT_FILE), new Date('2026-01-02T03:04:05Z'), new Date('2026-01-02T03:04:05Z'));
      await (await acquireRunDir('lab', base)).remove();
    }
    expect((await readdir(base)).sort()).toEqual(['lab.kept-20260102T030405Z', 'lab.kept-20260102T030405Z-2']);
    expect(await readFile(path.join(base, 'lab.kept-20260102T030405Z-2', 'a.log'), 'utf8')).toBe('two');
  });
});
