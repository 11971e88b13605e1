// Gzip bombs and interrupted unpacking (issue 17, 5): caps of 1 GiB and 10,000 entries, nothing left behind.
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openBundle, writeBundle } from '../../src/scenario/bundle.js';
import { fakeRun } from './bundle-fixtures.js';
import { UNPACK_LIMITS } from '../../src/scenario/unpack.js';
import { runCli } from '../cli/run-cli.js';
import { ctrlC, topo } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

const header = (name: string, size: number) => {
  const b = Buffer.alloc(512);
  new tar.Header({ path: name, mode: 0o644, size, type: 'File', mtime: new Date(0), uid: 0, gid: 0 }).encode(b, 0);
  return b;
};
const MiB_OF_ZEROS = gzipSync(Buffer.alloc(1 << 20));

/** A .tar.gz of files of whole MiB of zeros, as concatenated gzip members: 2 GiB costs 2 MB. */
function bomb(files: { name: string; mib: number }[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) parts.push(gzipSync(header(f.name, f.mib * 2 ** 20)), ...Array<Buffer>(f.mib).fill(MiB_OF_ZEROS));
  parts.push(gzipSync(Buffer.alloc(1024)));
  return Buffer.concat(parts);
}

let scratch: string;
let savedTmp: string | undefined;
beforeEach(() => {
  // Replay directories go to os.tmpdir(): a private one shows whether anything was left behind.
  scratch = tempDir('topo-bomb-tmp-');
  savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = scratch;
});
afterEach(() => {
  if (savedTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmp;
});

// Made before TMPDIR points at the scratch directory.
const inputs = tempDir('topo-bomb-in-');
const write = (name: string, data: Buffer) => {
  const file = path.join(inputs, name);
  writeFileSync(file, data);
  return file;
};

describe('gzip bombs', () => {
  it('a 2 MB bundle that unpacks to 2 GiB is refused on its header, naming the caps, and leaves nothing', async () => {
    const file = write('bomb.tar.gz', bomb([{ name: 'manifest.json', mib: 2048 }]));
    const res = await runCli('test', file);
    expect(res.code).toBe(2);
    expect(res.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(res.stderr).toContain('it unpacks to more than 1 GiB, the limit of a replayed bundle (caps: 1 GiB unpacked, 10,000 entries)');
    expect(readdirSync(scratch)).toEqual([]);
  });

  it('more entries than the cap are refused (10,000 by default; 50 here, as unpacking 10,000 files takes seconds)', async () => {
    const headers = Array.from({ length: 51 }, (_, i) => header(`f${i}`, 0));
    const file = write('many.tar.gz', gzipSync(Buffer.concat([...headers, Buffer.alloc(1024)])));
    await expect(openBundle(file, { limits: { bytes: 2 ** 30, entries: 50 } })).rejects.toThrow(/more than 50 entries, the limit of a replayed bundle \(caps: 1 GiB unpacked, 50 entries\)/);
    expect(readdirSync(scratch)).toEqual([]);
    expect(UNPACK_LIMITS).toEqual({ bytes: 2 ** 30, entries: 10_000 });
  });

  it('refused while files are still being written: one E_BUNDLE line, never ENOTEMPTY, nothing left', async () => {
    const file = write('mid.tar.gz', bomb(Array.from({ length: 40 }, (_, i) => ({ name: `f${i}`, mib: 1 }))));
    for (let i = 0; i < 5; i++) {
      const err = await openBundle(file, { limits: { bytes: 16 << 20, entries: 10_000 } }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'E_BUNDLE', message: expect.stringContaining('unpacks to more than 16 MiB') });
      expect(readdirSync(scratch)).toEqual([]);
    }
  });
});

describe('Ctrl-C while a bundle unpacks', () => {
  it('removes what was unpacked and exits 130', async () => {
    const fifo = path.join(inputs, 'slow.tar.gz');
    await execa('mkfifo', [fifo]);
    const child = topo(['test', fifo], { TMPDIR: scratch }, { group: true });
    // The bundle arrives through a pipe: the first file whole, then the writer pauses mid-way through the second.
    const fh = await open(fifo, 'w');
    await fh.write(Buffer.concat([gzipSync(Buffer.concat([header('first', 512), Buffer.alloc(512, 1)])), gzipSync(header('second', 64 << 20)), MiB_OF_ZEROS]));
    const replayDirs = () => readdirSync(scratch).filter((d) => d.startsWith('topo-replay-'));
    await until("the first member unpacked", () => replayDirs().flatMap((d) => readdirSync(path.join(scratch, d))).includes('first'), { timeoutMs: 25_000, intervalMs: 50 });
    ctrlC(child);
    await until('the replay directory to be removed', () => replayDirs().length === 0, { timeoutMs: 25_000 });
    // Only now the pipe closes: a read blocked on it would hold the exiting process (a regular file never blocks).
    await fh.close();
    const res = await child;
    expect(res.exitCode).toBe(130);
    expect(res.all).toContain('interrupted while unpacking');
    expect(replayDirs()).toEqual([]);
  });
});

describe("topo's own bundles fit under the caps they are replayed with", () => {
  const pcap = (records: number, size: number) => {
    const global = Buffer.alloc(24);
    global.writeUInt32LE(0xa1b2c3d4, 0);
    global.writeUInt16LE(2, 4);
    global.writeUInt16LE(4, 6);
    global.writeUInt32LE(65535, 16);
    global.writeUInt32LE(1, 20);
    const rec = Buffer.alloc(16 + size, 7);
    rec.writeUInt32LE(size, 8);
    rec.writeUInt32LE(size, 12);
    return Buffer.concat([global, ...Array<Buffer>(records).fill(rec)]);
  };
  const wholeRecords = (b: Buffer) => {
    let at = 24;
    while (at < b.length) at += 16 + b.readUInt32LE(at + 8);
    return at === b.length;
  };

  it('logs keep their tails and captures their first whole records, shared fairly, and the bundle replays', async () => {
    const run = await fakeRun();
    const big = Buffer.concat([Buffer.alloc(3 << 20, 'x'), Buffer.from('\nthe last line\n')]);
    run.consoleLogs.set('a', big);
    writeFileSync(run.captures[0]!, pcap(3000, 1000));
    const limits = { bytes: (16 << 20) + (4 << 20), entries: 10_000 };
    const file = await writeBundle(run, inputs, { limits });
    const opened = await openBundle(file, { limits });
    try {
      const log = readFileSync(path.join(opened.dir, 'logs/a.log'));
      expect(log.toString().startsWith('[topo: the first ')).toBe(true);
      expect(log.toString().endsWith('\nthe last line\n')).toBe(true);
      const cap = readFileSync(path.join(opened.dir, 'captures/l1.pcap'));
      expect(cap.length).toBeLessThan(3000 * 1016);
      expect(wholeRecords(cap)).toBe(true);
      expect(readFileSync(path.join(opened.dir, 'logs/b.log'), 'utf8')).toBe('b log\n');
      expect(opened.manifest.truncated).toEqual({ 'logs/a.log': { size: big.length, kept: log.length }, 'captures/l1.pcap': { size: 3000 * 1016 + 24, kept: cap.length } });
    } finally {
      await opened.close();
    }
  });

  it('with more members than entries allowed, captures are left out (and listed) so the bundle still opens', async () => {
    const run = await fakeRun();
    const dir = tempDir('topo-bomb-caps-');
    run.captures = Array.from({ length: 30 }, (_, i) => {
      const f = path.join(dir, `l${i + 1}.pcap`);
      writeFileSync(f, pcap(1, 60));
      return f;
    });
    const limits = { bytes: 1 << 30, entries: 40 };
    const file = await writeBundle(run, inputs, { limits });
    const opened = await openBundle(file, { limits });
    try {
      expect(opened.manifest.omitted?.length).toBeGreaterThan(0);
      expect(opened.manifest.omitted?.every((m) => m.startsWith('captures/'))).toBe(true);
      expect(existsSync(path.join(opened.dir, 'logs/a.log'))).toBe(true);
    } finally {
      await opened.close();
    }
  });
});
