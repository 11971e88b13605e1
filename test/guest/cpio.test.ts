import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { writeNewc, type CpioEntry } from '../../src/guest/cpio.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const entries: CpioEntry[] = [
  { type: 'dir', path: 'bin' },
  { type: 'file', path: 'bin/tool', data: Buffer.from('#!/bin/sh\necho hi\n'), mode: 0o755 },
  { type: 'symlink', path: 'bin/sh', target: 'tool' },
  { type: 'dir', path: 'etc' },
  // Odd lengths exercise the 4-byte padding of names and data.
  { type: 'file', path: 'etc/a', data: Buffer.from('x') },
  { type: 'file', path: 'etc/empty', data: Buffer.alloc(0) },
  { type: 'file', path: 'etc/bin', data: Buffer.from([0, 1, 2, 255, 254, 10, 13]) },
  { type: 'file', path: 'etc/ünïcode ✓', data: Buffer.from('é') },
];

describe('writeNewc', () => {
  it('writes an archive the system cpio lists and extracts byte-exact', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'topo-cpio-'));
    dirs.push(dir);
    const archive = join(dir, 'a.cpio');
    await writeFile(archive, writeNewc(entries));

    const list = await execa('cpio', ['-t', '--quiet', '-F', archive]);
    expect(list.stdout.split('\n')).toEqual(entries.map((e) => e.path));

    const out = join(dir, 'out');
    await execa('mkdir', [out]);
    await execa('cpio', ['-i', '--quiet', '-d', '--no-absolute-filenames', '-F', archive], { cwd: out });
    for (const e of entries) {
      if (e.type === 'file') expect(await readFile(join(out, e.path))).toEqual(e.data);
      if (e.type === 'symlink') expect(await readlink(join(out, e.path))).toBe(e.target);
    }
    expect((await stat(join(out, 'bin/tool'))).mode & 0o777).toBe(0o755);
    expect((await stat(join(out, 'etc/a'))).mode & 0o777).toBe(0o644);
  });

  it('lists device nodes and ends with the trailer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'topo-cpio-'));
    dirs.push(dir);
    const archive = join(dir, 'dev.cpio');
    const buf = writeNewc([{ type: 'dir', path: 'dev' }, { type: 'char', path: '/dev/console', major: 5, minor: 1 }]);
    await writeFile(archive, buf);
    const list = await execa('cpio', ['-tv', '--quiet', '-F', archive]);
    expect(list.stdout).toMatch(/^crw-------.* 5,\s+1 .*dev\/console$/m);
    expect(buf.length % 4).toBe(0);
    expect(buf.includes(Buffer.from('TRAILER!!!\0'))).toBe(true);
  });

  it('is deterministic and rejects escaping paths', () => {
    expect(writeNewc(entries).equals(writeNewc(entries))).toBe(true);
    expect(() => writeNewc([{ type: 'dir', path: '../x' }])).toThrow(/bad cpio path/);
  });
});
