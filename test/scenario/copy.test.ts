// The copy mechanism (copy step, `topo cp`) against a "guest" that is the host's busybox in a scratch directory:
// modes as `cp` without -p, links replaced not followed, guest symlinks followed, reads bounded whatever the guest says.
import { execa } from 'execa';
import { chmod, lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { download, MAX_COPY_BYTES, upload } from '../../src/scenario/copy.js';
import type { ExecResult } from '../../src/guest/agent-client.js';
import type { NodeHandle } from '../../src/api/handles.js';
import { asNobody, sandbox } from '../helpers/other-user.js';

let dir: string;
let guest: string;
let host: string;
let umask: number;
/** What the host read from the guest, command by command. */
const reads: { argv: string[]; bytes: number }[] = [];

/** The guest's commands run under the host's busybox, argv as the agent would run them. */
function busyboxNode(rewrite?: (argv: string[], r: ExecResult) => ExecResult): NodeHandle {
  return {
    name: 'a',
    exec: async (cmd: string | readonly string[], opts?: { stdin?: Buffer | string }) => {
      const argv = typeof cmd === 'string' ? ['sh', '-c', cmd] : [...cmd];
      const r = await execa('busybox', argv, { input: opts?.stdin === undefined ? '' : Buffer.from(opts.stdin), encoding: 'buffer', reject: false, stripFinalNewline: false, maxBuffer: 1 << 30 });
      let res: ExecResult = { exitCode: r.exitCode ?? 1, timedOut: false, stdout: Buffer.from(r.stdout), stderr: Buffer.from(r.stderr) };
      if (rewrite) res = rewrite(argv, res);
      reads.push({ argv, bytes: res.stdout.length });
      return res;
    },
  } as NodeHandle;
}
const node = busyboxNode();

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'topo-copy-'));
  guest = path.join(dir, 'guest');
  host = path.join(dir, 'host');
  await mkdir(guest);
  await mkdir(host);
  umask = process.umask(0o027);
});
afterAll(async () => {
  process.umask(umask);
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => void (reads.length = 0));

describe('download (guest to host)', () => {
  it('keeps the permission bits masked by the umask, never setuid/setgid/sticky (cp without -p)', async () => {
    const f = path.join(guest, 'suid');
    await writeFile(f, 'x');
    await chmod(f, 0o7777);
    const out = path.join(host, 'suid');
    await download(node, f, out);
    expect((await lstat(out)).mode & 0o7777).toBe(0o750);
  });

  it('host to guest keeps the mode', async () => {
    const f = path.join(host, 'exe');
    await writeFile(f, 'x');
    await chmod(f, 0o4755);
    await upload(node, f, path.join(guest, 'exe'));
    expect((await lstat(path.join(guest, 'exe'))).mode & 0o7777).toBe(0o4755);
  });

  it('follows a guest symlink for the mode and the size', async () => {
    const real = path.join(guest, 'real');
    await writeFile(real, 'content');
    await chmod(real, 0o640);
    await symlink(real, path.join(guest, 'link'));
    const out = path.join(host, 'from-link');
    expect(await download(node, path.join(guest, 'link'), out)).toBe(7);
    expect((await lstat(out)).mode & 0o777).toBe(0o640);

    const big = path.join(guest, 'big');
    await writeFile(big, '');
    await truncate(big, MAX_COPY_BYTES + 1);
    await symlink(big, path.join(guest, 'biglink'));
    reads.length = 0;
    await expect(download(node, path.join(guest, 'biglink'), path.join(host, 'big'))).rejects.toMatchObject({ code: 'E_TOO_LARGE', message: expect.stringContaining('64 MiB (67108864 bytes)') });
    // Refused on the size alone: nothing was read.
    expect(reads.map((r) => r.argv[0])).toEqual(['sh']);
  });

  it('reads at most the limit plus one byte from a guest that lies about the size', async () => {
    const big = path.join(guest, 'huge');
    await writeFile(big, '');
    await truncate(big, MAX_COPY_BYTES + 4096);
    const liar = busyboxNode((argv, r) => (argv[0] === 'sh' ? { ...r, stdout: Buffer.from('644 10\n') } : r));
    await expect(download(liar, big, path.join(host, 'huge'))).rejects.toMatchObject({ code: 'E_TOO_LARGE' });
    expect(reads.at(-1)!.bytes).toBe(MAX_COPY_BYTES + 1);
    await expect(lstat(path.join(host, 'huge'))).rejects.toThrow(/ENOENT/);
  });

  it('copies into a directory, as cp does (with or without a trailing slash)', async () => {
    const f = path.join(guest, 'hostname');
    await writeFile(f, 'a\n');
    const into = path.join(host, 'dir');
    await mkdir(into);
    await download(node, f, into);
    expect(await readFile(path.join(into, 'hostname'), 'utf8')).toBe('a\n');
    await download(node, f, `${path.join(host, 'newdir')}/`);
    expect(await readFile(path.join(host, 'newdir', 'hostname'), 'utf8')).toBe('a\n');
  });
});

describe('download over a destination another user planted', () => {
  let shared: string;
  beforeEach(async () => {
    shared = await sandbox('topo-copy-shared-');
  });
  afterEach(async () => {
    await rm(shared, { recursive: true, force: true });
  });

  it('replaces a symlink at the destination instead of writing through it', async () => {
    const victim = path.join(dir, 'victim');
    await writeFile(victim, 'precious');
    await chmod(victim, 0o600);
    const f = path.join(guest, 'evil');
    await writeFile(f, 'guest bytes');
    await chmod(f, 0o777);
    const dest = path.join(shared, 'out');
    await asNobody('ln', '-s', victim, dest);
    expect(await readlink(dest)).toBe(victim);
    await download(node, f, dest);
    expect(await readFile(victim, 'utf8')).toBe('precious');
    expect((await lstat(victim)).mode & 0o777).toBe(0o600);
    const st = await lstat(dest);
    expect([st.isFile(), st.uid, st.mode & 0o777, await readFile(dest, 'utf8')]).toEqual([true, 0, 0o750, 'guest bytes']);
  });
});

describe('topo cp arguments', () => {
  it('says a guest path with a newline is the problem, not "neither is a guest path"', async () => {
    const { cpCommand } = await import('../../src/cli/cp.js');
    await expect(cpCommand(['a:/tmp/x\ny', './out'], {})).rejects.toMatchObject({ code: 'E_USAGE', message: 'topo cp: the guest path "a:/tmp/x\\ny" contains a newline; topo cp takes paths without newlines' });
  });
});
