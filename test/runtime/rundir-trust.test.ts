// Run-directory trust: a base or lab directory another user controls is refused before anything is written into it.
import { closeSync, existsSync, writeSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TopoError } from '../../src/errors.js';
import { acquireRunDir } from '../../src/runtime/rundir.js';
import { CAPTURE_POLICY, createFileExclusive, openAppendFd, secureDir } from '../../src/host/safe-fs.js';
import { topo } from '../helpers/cli.js';
import { asNobody, NOBODY, sandbox } from '../helpers/other-user.js';

let tmp: string;
let victim: string;

beforeEach(async () => {
  tmp = await sandbox('topo-trust-');
  victim = path.join(tmp, 'victim');
  await writeFile(victim, 'root secret\n', { mode: 0o600 });
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function refusal(promise: Promise<unknown>): Promise<TopoError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(TopoError);
  expect((err as TopoError).oneLine()).not.toMatch(/\n/);
  return err as TopoError;
}

/** nobody's 0777 base with the lab directory and symlinks to the victim already planted (the reported attack). */
async function plantedBase(): Promise<string> {
  const base = path.join(tmp, 'topo-0');
  await asNobody('mkdir', '-m', '0777', base);
  await asNobody('mkdir', '-m', '0777', path.join(base, 'lab'));
  await asNobody('ln', '-s', victim, path.join(base, 'lab', 'a.config'));
  await asNobody('ln', '-s', victim, path.join(base, 'lab', 'b.log'));
  return base;
}

describe('run directory base trust', () => {
  it('refuses a base owned by another user and writable by all, and writes nothing into it', async () => {
    const base = await plantedBase();
    const err = await refusal(acquireRunDir('lab', base));
    expect(err.code).toBe('E_RUNDIR_UNSAFE');
    expect(err.message).toContain(base);
    expect(err.message).toMatch(/owned by uid 65534/);
    expect(err.hint).toMatch(/--run-dir/);
    expect(await readdir(path.join(base, 'lab'))).toEqual(['a.config', 'b.log']);
    expect(await readFile(victim, 'utf8')).toBe('root secret\n');
  });

  it('`topo up` prints one error line for it, no stack trace, and the victim file is unchanged', async () => {
    const base = await plantedBase();
    const file = path.join(tmp, 'lab.yaml');
    await writeFile(file, 'name: lab\nnodes:\n  a: { kernel: /bin/true }\n');
    const result = await topo(['up', file, '--run-dir', base], { TOPO_QEMU: '/bin/true' });
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^topo: error: run directory base .*topo-0: .*owned by uid 65534.*\(remove it/)]);
    expect(await readFile(victim, 'utf8')).toBe('root secret\n');
  });

  it('refuses a base that is a symlink planted in a sticky shared directory', async () => {
    const shared = path.join(tmp, 'shared');
    await mkdir(shared);
    await chmod(shared, 0o1777);
    const mine = path.join(tmp, 'mine');
    await mkdir(mine, { mode: 0o700 });
    await asNobody('ln', '-s', mine, path.join(shared, 'topo-0'));
    const err = await refusal(acquireRunDir('lab', path.join(shared, 'topo-0')));
    expect(err.message).toMatch(/topo-0: .*symbolic link/);
    expect(await readdir(mine)).toEqual([]);
  });

  it('refuses a base of ours that other users may write to', async () => {
    const base = path.join(tmp, 'open');
    await mkdir(base);
    await chmod(base, 0o777);
    const err = await refusal(acquireRunDir('lab', base));
    expect(err.message).toMatch(/writable by other users \(mode 0777\)/);
    expect(err.hint).toMatch(/chmod go-w .*open/);
  });

  it('refuses a shared sticky directory such as /tmp itself as the base, suggesting a private one inside', async () => {
    const err = await refusal(acquireRunDir('lab', tmp));
    expect(err.message).toMatch(/it is a shared directory \(mode 01777\)/);
    expect(err.hint).toContain(`use a private one inside it, such as ${tmp}/topo-0`);
  });

  it('refuses a base under a directory another user may rename things in', async () => {
    const parent = path.join(tmp, 'parent');
    await asNobody('mkdir', '-m', '0777', parent);
    const err = await refusal(acquireRunDir('lab', path.join(parent, 'topo-0')));
    expect(err.message).toContain(`${parent} is owned by uid ${NOBODY}`);
    expect(existsSync(path.join(parent, 'topo-0'))).toBe(false);
  });

  it('creates a missing base 0700 and the lab directory 0700', async () => {
    const base = path.join(tmp, 'new', 'topo-0');
    const run = await acquireRunDir('lab', base);
    expect((await lstat(base)).mode & 0o777).toBe(0o700);
    expect((await lstat(run.path)).mode & 0o777).toBe(0o700);
    await run.remove();
  });

  it('a base or lab directory that is a regular file is one TopoError, not a raw errno', async () => {
    await writeFile(path.join(tmp, 'file'), '');
    expect((await refusal(acquireRunDir('lab', path.join(tmp, 'file')))).message).toMatch(/file is not a directory/);
    const base = path.join(tmp, 'base');
    await mkdir(base, { mode: 0o700 });
    await writeFile(path.join(base, 'lab'), '');
    expect((await refusal(acquireRunDir('lab', base))).message).toMatch(/base\/lab is not a directory/);
  });
});

describe('files created in the run directory and shared places', () => {
  let shared: string;
  beforeEach(async () => {
    shared = path.join(tmp, 'shared');
    await mkdir(shared);
    await chmod(shared, 0o777);
  });

  it('createFile refuses a name planted as a symlink by another user', async () => {
    await asNobody('ln', '-s', victim, path.join(shared, 'a.config'));
    const err = await refusal(createFileExclusive(path.join(shared, 'a.config'), 'guest config'));
    expect(err.message).toMatch(/a\.config: something already exists there/);
    expect(await readFile(victim, 'utf8')).toBe('root secret\n');
  });

  it('a log planted as a symlink is not appended to', async () => {
    await asNobody('ln', '-s', victim, path.join(shared, 'b.log'));
    expect(() => openAppendFd(path.join(shared, 'b.log'))).toThrow(/ELOOP|EEXIST/);
    expect(await readFile(victim, 'utf8')).toBe('root secret\n');
  });

  it('RunDir files are new, private, and never reused', async () => {
    const base = path.join(tmp, 'base');
    const run = await acquireRunDir('lab', base);
    const file = await run.createFile('a.config', 'cfg');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await expect(run.createFile('a.config', 'again')).rejects.toMatchObject({ code: 'E_RUNDIR' });
    const log = run.openLogFd('a.log');
    writeSync(log, 'line\n');
    closeSync(log);
    expect(() => run.openLogFd('a.log')).toThrow(/EEXIST/);
    expect(await readFile(run.file('a.log'), 'utf8')).toBe('line\n');
    expect((await lstat(await run.createDir('a.tpm'))).isDirectory()).toBe(true);
    await run.remove();
  });

  it('a capture directory reached through another user\'s symlink is refused', async () => {
    await asNobody('ln', '-s', '/etc', path.join(shared, 'captures'));
    const err = await refusal(secureDir(path.join(shared, 'captures', 'lab'), CAPTURE_POLICY));
    expect(err.code).toBe('E_CAPTURE_DIR');
    expect(existsSync('/etc/lab')).toBe(false);
  });
});

describe('pseudo file systems', () => {
  it('refuses a run directory on /proc at once (Node\'s recursive mkdir spins there)', async () => {
    const err = await refusal(acquireRunDir('lab', '/proc/topo-test'));
    expect(err.message).toMatch(/\/proc is on the proc pseudo file system/);
  });

  it('refuses an existing directory on sysfs, and creates nothing on it', async () => {
    expect((await refusal(acquireRunDir('lab', '/sys/kernel'))).message).toMatch(/sysfs pseudo file system/);
    expect((await refusal(acquireRunDir('lab', '/sys/topo-test'))).message).toMatch(/sysfs pseudo file system/);
    expect(existsSync('/sys/topo-test')).toBe(false);
  });

  it('refuses a capture directory on /proc', async () => {
    expect((await refusal(secureDir('/proc/self/topo-captures', CAPTURE_POLICY))).message).toMatch(/proc pseudo file system/);
  });
});
