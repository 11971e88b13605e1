// `topo link`, `topo impair` and `topo capture` as a user types them, against a lab of fake QEMUs that send frames on
// demand (fake-node.mjs): the QMP the QEMUs got, the direction an impairment acts in, the pcap a capture writes.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topo } from '../helpers/cli.js';
import { startFakeLab, until, type FakeLab } from './fake-lab.js';
import { counters, delta, payload, pcapFrames, sendFrames, settled } from './handles.js';

let f: FakeLab;
let env: Record<string, string>;
beforeAll(async () => {
  f = await startFakeLab('clilink');
  env = { ...f.env, TOPO_RUN_DIR: f.base };
});
afterAll(() => f?.stop());

const setLinks = (log: string) => log.split('\n').filter((l) => l.includes('set_link')).sort();

describe('topo link', () => {
  it('down and up: one line each, and QMP set_link reached the QEMU at both ends', async () => {
    const mark = (await f.readLog()).length;
    const down = await topo(['link', 'a:eth1', 'down'], env);
    expect({ code: down.exitCode, out: down.stdout }).toEqual({ code: 0, out: 'clilink: link l1 (a:eth1 b:eth1) down' });
    expect(setLinks((await f.readLog()).slice(mark))).toEqual(['a qmp set_link {"name":"net1","up":false}', 'b qmp set_link {"name":"net1","up":false}']);
    const up = await topo(['link', 'clilink', 'l1', 'up'], env);
    expect({ code: up.exitCode, out: up.stdout }).toEqual({ code: 0, out: 'clilink: link l1 (a:eth1 b:eth1) up' });
    expect(setLinks((await f.readLog()).slice(mark))).toEqual([
      'a qmp set_link {"name":"net1","up":false}',
      'a qmp set_link {"name":"net1","up":true}',
      'b qmp set_link {"name":"net1","up":false}',
      'b qmp set_link {"name":"net1","up":true}',
    ]);
  });

  it('an unknown endpoint is one line naming what exists, exit 1', async () => {
    const r = await topo(['link', 'z:eth9', 'down'], env);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/no link "z:eth9" in lab clilink \(links and endpoints: l1, a:eth1, b:eth1\)/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('topo impair', () => {
  it('--direction out on a:eth1 impairs what a sends: shown on b:eth1 only, and only a -> b frames are lost', async () => {
    const set = await topo(['impair', 'a:eth1', '--loss', '100%', '--direction', 'out'], env);
    expect({ code: set.exitCode, out: set.stdout }).toEqual({ code: 0, out: 'clilink: l1 to a:eth1: none\nclilink: l1 to b:eth1: loss 100%' });
    const shown = await topo(['impair', '--show', '--json'], env);
    expect(JSON.parse(shown.stdout)).toEqual([{ link: 'l1', to: 'a:eth1' }, { link: 'l1', to: 'b:eth1', impair: expect.objectContaining({ lossPct: 100 }) }]);
    const before = await counters(f.lab);
    await sendFrames(f.lab, 'a', 4);
    await sendFrames(f.lab, 'b', 3);
    const after = await settled(f.lab, before, { 'a:eth1': 4, 'b:eth1': 3 });
    expect({
      aToB: [delta(before, after, 'b:eth1', (c) => c.tx.frames), delta(before, after, 'b:eth1', (c) => c.drops.loss)],
      bToA: [delta(before, after, 'a:eth1', (c) => c.tx.frames), delta(before, after, 'a:eth1', (c) => c.drops.loss)],
    }).toEqual({ aToB: [0, 4], bToA: [3, 0] });
    const cleared = await topo(['impair', 'a:eth1', '--clear'], env);
    expect(cleared.stdout).toBe('clilink: l1 to a:eth1: none\nclilink: l1 to b:eth1: none');
  });

  it('--direction in on a:eth1 impairs what a receives', async () => {
    const set = await topo(['impair', 'a:eth1', '--delay', '20ms', '--direction', 'in'], env);
    expect(set.stdout).toBe('clilink: l1 to a:eth1: delay 20ms\nclilink: l1 to b:eth1: none');
    await f.lab.link('a:eth1').clear();
  });
});

describe('topo capture', () => {
  it('-w FILE writes a pcap of the frames that pass from its start until Ctrl-C', async () => {
    const file = path.join(f.base, 'l1.pcap');
    const child = topo(['capture', 'a:eth1', '-w', file], env, { group: true });
    // The pcap header is written once the capture is attached.
    await until(async () => ((await stat(file).catch(() => undefined))?.size ?? 0) >= 24 || undefined, 'the pcap header');
    const before = await counters(f.lab);
    await sendFrames(f.lab, 'b', 2);
    await sendFrames(f.lab, 'a', 1);
    await settled(f.lab, before, { 'a:eth1': 1, 'b:eth1': 2 });
    await until(async () => (pcapFrames(await readFile(file)).length >= 3 ? true : undefined), 'three frames in the file');
    process.kill(-child.pid!, 'SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(0);
    const frames = pcapFrames(await readFile(file));
    expect(frames.map(payload).map((p) => p.replace(/seq \d+/, 'seq N')).sort()).toEqual(['a net1 seq N', 'b net1 seq N', 'b net1 seq N']);
  });
});
