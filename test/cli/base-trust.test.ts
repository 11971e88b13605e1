// `topo ps`, `topo down --all` (every command that looks under the run-directory base) trust it as `up` does, and
// clean up only what is provably a topo run directory of this user.
import { existsSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { repoRoot, topo, topoArgv } from '../helpers/cli.js';
import { asNobody, NOBODY, nobodyReading, sandbox } from '../helpers/other-user.js';

let shared: string;
let scratch: string;

beforeEach(async () => {
  shared = await sandbox('topo-base-');
  // A directory of root's that an attacker would like emptied: its entries look like lab names.
  scratch = await mkdtemp(path.join(os.tmpdir(), 'topo-scratch-'));
  await mkdir(path.join(scratch, 'important'));
  await writeFile(path.join(scratch, 'important', 'data'), 'precious\n');
});
afterEach(async () => {
  await rm(shared, { recursive: true, force: true });
  await rm(scratch, { recursive: true, force: true });
});

// No --run-dir, no TOPO_RUN_DIR, no XDG_RUNTIME_DIR: the default base, $TMPDIR/topo-<uid>, as after a reboot.
const defaultBaseEnv = () => ({ TMPDIR: shared, TOPO_RUN_DIR: '', XDG_RUNTIME_DIR: '' });

describe('a run-directory base planted by another user', () => {
  it('`topo down --all` refuses it and deletes nothing through it', async () => {
    await asNobody('ln', '-s', scratch, path.join(shared, 'topo-0'));
    const r = await topo(['down', '--all'], defaultBaseEnv());
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^topo: error: run directory base .*topo-0: it is a symbolic link \(remove the link/)]);
    expect(r.exitCode).toBe(1);
    expect(await readdir(path.join(scratch, 'important'))).toEqual(['data']);
  });

  it('`topo ps` refuses it too, instead of listing what is behind it', async () => {
    await asNobody('ln', '-s', scratch, path.join(shared, 'topo-0'));
    const r = await topo(['ps'], defaultBaseEnv());
    expect(r.stderr).toMatch(/^topo: error: run directory base .*topo-0: it is a symbolic link/);
    expect(r.stdout).not.toMatch(/important/);
    expect(r.exitCode).toBe(1);
  });

  it('a base that does not exist yet means no labs, and is not created by looking', async () => {
    const r = await topo(['ps'], defaultBaseEnv());
    expect(r.stdout).toBe('no labs running');
    expect(existsSync(path.join(shared, 'topo-0'))).toBe(false);
  });
});

describe('cleaning up inside our own base', () => {
  let base: string;
  beforeEach(async () => {
    base = path.join(shared, 'mine');
    await mkdir(base, { mode: 0o700 });
  });

  it('`down --all` removes a stale run directory, but not a directory that is no run directory, nor what a link points to', async () => {
    await mkdir(path.join(base, 'stale'));
    await writeFile(path.join(base, 'stale', 'owner.json'), '{"pid":1,"startTime":1}\n');
    await writeFile(path.join(base, 'stale', 'a.log'), 'log\n');
    await mkdir(path.join(base, 'notes'));
    await writeFile(path.join(base, 'notes', 'todo'), 'mine\n');
    await symlink(scratch, path.join(base, 'linked'));
    const r = await topo(['down', '--all', '--run-dir', base]);
    expect(r.stdout).toMatch(/^stale: stale lab cleaned up/m);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^topo: error: .*notes is not a topo run directory of yours \(it holds no owner\.json or kept of yours\): left in place/)]);
    expect(r.exitCode).toBe(1);
    expect((await readdir(base)).sort()).toEqual(['linked', 'notes']);
    expect(await readdir(path.join(scratch, 'important'))).toEqual(['data']);
  });

  it('a run directory holding a file another user owns is left in place', async () => {
    await mkdir(path.join(base, 'odd'));
    await writeFile(path.join(base, 'odd', 'owner.json'), '{"pid":1,"startTime":1}\n');
    await writeFile(path.join(base, 'odd', 'planted'), '');
    await chown(path.join(base, 'odd', 'planted'), NOBODY, NOBODY);
    const r = await topo(['down', 'odd', '--run-dir', base]);
    expect(r.stderr).toMatch(/odd is not a topo run directory of yours \(planted in it is owned by uid 65534\)/);
    expect(r.exitCode).toBe(1);
    expect(existsSync(path.join(base, 'odd', 'owner.json'))).toBe(true);
  });
});

describe("another user's labs", () => {
  it("another user's `topo ps` does not list root's labs as stale", async () => {
    // Root's base and lab, readable by all (its owner record is not).
    const base = path.join(shared, 'root-base');
    await mkdir(path.join(base, 'rootlab'), { recursive: true, mode: 0o755 });
    await writeFile(path.join(base, 'rootlab', 'owner.json'), '{"pid":1,"startTime":1}\n', { mode: 0o600 });
    const r = await nobodyReading(topoArgv(['ps', '--run-dir', base]), { cwd: repoRoot, env: { CI: '1', TMPDIR: shared } });
    expect(r.stdout).not.toMatch(/rootlab/);
    expect(r.stderr).toMatch(/^topo: error: run directory base .*root-base: it is owned by uid 0, not by you \(uid 65534\)/);
  });

  it('a directory in our base that another user owns is not listed as one of our labs', async () => {
    const base = path.join(shared, 'mine');
    await mkdir(path.join(base, 'theirs'), { recursive: true });
    await chown(path.join(base, 'theirs'), NOBODY, NOBODY);
    const r = await topo(['ps', '--run-dir', base, '--json']);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });
});
