// One specification of a link's control surface (down/up, impair with a direction, live capture), run against the
// Lab of up() and the RemoteLab of connect() alike. The fake QEMUs send frames on demand (fake-node.mjs), so the
// forwarder's counters and captures show real traffic; no VM.
import { describe, expect, it, onTestFailed } from 'vitest';
import { labAndRemote, until } from './fake-lab.js';
import { collect, counters, delta, liveConsole, payload, pcapFrames, sendFrames, settled } from './handles.js';

const { fake, handles } = labAndRemote('speclink');

describe.each(handles)('%s', (_label, get) => {
  it('link down reaches both QEMUs as QMP set_link, shows in status and stops traffic; up brings both back', async () => {
    const logBefore = (await fake().readLog()).length;
    // A failure here must not leave the link down for the tests after it.
    onTestFailed(() => get().link('l1').up());
    await get().link('a:eth1').down();
    expect((await get().status()).links[0]!.state).toBe('down');
    const downCalls = (await fake().readLog()).slice(logBefore);
    expect(downCalls.split('\n').filter((l) => l.includes('set_link')).sort()).toEqual([
      'a qmp set_link {"name":"net1","up":false}',
      'b qmp set_link {"name":"net1","up":false}',
    ]);
    // A NIC with its carrier down sends nothing: the forwarder sees no frame.
    const before = await counters(get());
    await sendFrames(get(), 'a', 2);
    await get().link('l1').up();
    expect((await get().status()).links[0]!.state).toBe('up');
    const upCalls = (await fake().readLog()).slice(logBefore + downCalls.length);
    expect(upCalls.split('\n').filter((l) => l.includes('set_link')).sort()).toEqual([
      'a qmp set_link {"name":"net1","up":true}',
      'b qmp set_link {"name":"net1","up":true}',
    ]);
    await sendFrames(get(), 'a', 1);
    const after = await settled(get(), before, { 'a:eth1': 1 });
    expect(delta(before, after, 'b:eth1', (c) => c.tx.frames)).toBe(1);
  });

  it('impair --direction out on a:eth1 impairs frames towards b:eth1 only, and drops only those', async () => {
    const h = get();
    const set = await h.link('a:eth1').impair({ loss: '100%' }, { direction: 'out' });
    expect(set.map((s) => [s.to, s.impair?.lossPct ?? 0])).toEqual([['a:eth1', 0], ['b:eth1', 100]]);
    try {
      const consoleA = await liveConsole(h, 'a');
      const before = await counters(h);
      await sendFrames(h, 'a', 3);
      await sendFrames(h, 'b', 2);
      const after = await settled(h, before, { 'a:eth1': 3, 'b:eth1': 2 });
      // a -> b: all lost; b -> a: all handed over.
      expect({
        toB: { delivered: delta(before, after, 'b:eth1', (c) => c.tx.frames), lost: delta(before, after, 'b:eth1', (c) => c.drops.loss) },
        toA: { delivered: delta(before, after, 'a:eth1', (c) => c.tx.frames), lost: delta(before, after, 'a:eth1', (c) => c.drops.loss) },
      }).toEqual({ toB: { delivered: 0, lost: 3 }, toA: { delivered: 2, lost: 0 } });
      // And a's guest got b's frames.
      await until(() => (consoleA.text().match(/^fake: rx net1 b net1 seq \d+\r$/gm)?.length === 2 ? true : undefined), "b's frames on a's console");
      consoleA.stream.destroy();
    } finally {
      const cleared = await h.link('a:eth1').clear();
      expect(cleared.every((s) => s.impair === undefined)).toBe(true);
    }
  });

  it('impair --direction in on a:eth1 impairs frames towards a:eth1 only', async () => {
    const set = await get().link('a:eth1').impair({ delay: '5ms' }, { direction: 'in' });
    expect(set.map((s) => [s.to, s.impair?.delayMs ?? 0])).toEqual([['a:eth1', 5], ['b:eth1', 0]]);
    await get().link('a:eth1').clear();
  });

  it('capture: a live pcap of the frames that pass, both ways, from the start of the capture', async () => {
    const h = get();
    const before = await counters(h);
    const cap = h.link('a:eth1').capture();
    const got = collect(cap);
    // The pcap header comes first: the capture is attached from then on.
    await until(() => (got.bytes().length >= 24 ? true : undefined), 'the pcap header');
    await sendFrames(h, 'a', 2);
    await sendFrames(h, 'b', 1);
    await settled(h, before, { 'a:eth1': 2, 'b:eth1': 1 });
    const frames = await until(() => (pcapFrames(got.bytes()).length >= 3 ? pcapFrames(got.bytes()) : undefined), 'three captured frames');
    cap.destroy();
    expect(got.bytes().readUInt32LE(0).toString(16)).toMatch(/^a1b2c3d4$|^a1b23c4d$/);
    expect(frames.map(payload).map((p) => p.replace(/seq \d+/, 'seq N')).sort()).toEqual(['a net1 seq N', 'a net1 seq N', 'b net1 seq N']);
  });
});
