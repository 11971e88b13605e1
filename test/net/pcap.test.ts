import { chmod, lstat, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PCAP_SNAPLEN, PcapWriter } from '../../src/net/pcap.js';
import { readPcap } from './helpers.js';
import { asNobody, sandbox } from '../helpers/other-user.js';

describe('PcapWriter', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await sandbox('topo-pcap-');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips frames with header, lengths and microsecond timestamps', async () => {
    const file = join(dir, 'l1.pcap');
    const w = new PcapWriter(file);
    const frames = [Buffer.alloc(60, 1), Buffer.alloc(1514, 2), Buffer.alloc(14, 3)];
    w.write(frames[0]!, 1_700_000_000_123.456);
    w.write(frames[1]!, 1_700_000_001_000);
    w.write(frames[2]!, 1_700_000_001_999.9999);
    await w.close();
    const p = readPcap(await readFile(file));
    expect(p).toMatchObject({ linktype: 1, snaplen: 65535, version: '2.4' });
    expect(p.records.map((r) => r.data)).toEqual(frames);
    expect(p.records.map((r) => r.origLen)).toEqual([60, 1514, 14]);
    expect(p.records.map((r) => [r.tsSec, r.tsUsec])).toEqual([
      [1_700_000_000, 123_456], [1_700_000_001, 0], [1_700_000_002, 0],
    ]);
    expect(w.stats()).toMatchObject({ frames: 3, bytes: 1588, drops: 0 });
  });

  it('uses wall-clock time by default and truncates to the snaplen', async () => {
    const file = join(dir, 'big.pcap');
    const w = new PcapWriter(file);
    const before = Date.now();
    w.write(Buffer.alloc(PCAP_SNAPLEN + 100, 9));
    await w.close();
    const [r] = readPcap(await readFile(file)).records;
    expect(r!.data.length).toBe(PCAP_SNAPLEN);
    expect(r!.origLen).toBe(PCAP_SNAPLEN + 100);
    expect(Math.abs(r!.tsSec * 1000 - before)).toBeLessThan(60_000);
  });

  it('reports an unwritable file without throwing, and close() still resolves', async () => {
    const errors: Error[] = [];
    const w = new PcapWriter(join(dir, 'missing', 'x.pcap'), { onError: (e) => errors.push(e) });
    w.write(Buffer.alloc(60));
    await w.close();
    expect(errors).toHaveLength(1);
    expect(w.stats().error).toMatch(/ENOENT/);
    w.write(Buffer.alloc(60));
    expect(w.stats().drops).toBe(1);
  });

  it('never writes through a symlink planted at its name, nor into a file someone else created', async () => {
    const shared = join(dir, 'captures');
    await mkdir(shared);
    await chmod(shared, 0o777);
    const victim = join(dir, 'victim');
    await writeFile(victim, 'root secret\n', { mode: 0o600 });
    await asNobody('ln', '-s', victim, join(shared, 'l1.pcap'));
    await asNobody('sh', '-c', `echo planted > ${join(shared, 'l2.pcap')}`);
    for (const name of ['l1.pcap', 'l2.pcap']) {
      const w = new PcapWriter(join(shared, name));
      w.write(Buffer.alloc(60, 7), 1_700_000_000_000);
      await w.close();
      const st = await lstat(join(shared, name));
      expect(st.isFile() && st.uid === process.getuid!()).toBe(true);
      expect(readPcap(await readFile(join(shared, name))).records).toHaveLength(1);
    }
    expect(await readFile(victim, 'utf8')).toBe('root secret\n');
  });

  it('replaces the capture of an earlier run', async () => {
    const file = join(dir, 'l1.pcap');
    for (const n of [3, 1]) {
      const w = new PcapWriter(file);
      for (let i = 0; i < n; i++) w.write(Buffer.alloc(60, i), 1_700_000_000_000);
      await w.close();
    }
    expect(readPcap(await readFile(file)).records).toHaveLength(1);
  });
});
