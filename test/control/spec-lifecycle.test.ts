// One specification of node restarts, stop/start and ports, run against the Lab of up() and the RemoteLab of
// connect() alike, on fake QEMUs whose nodes run the real guest agent (busybox): the agent and the forwarded link
// come back with the node, and a link the user took down stays down.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { connect } from '../../src/control/remote-lab.js';
import { labAndRemote, until } from './fake-lab.js';
import { counters, delta, sendFrames, settled } from './handles.js';

const { fake, handles } = labAndRemote('speclife');

const nodeOf = async (h: ReturnType<(typeof handles)[number][1]>, name: string) => (await h.status()).nodes.find((n) => n.name === name)!;

describe.each(handles)('%s', (_label, get) => {
  it('restart: a new QEMU; its agent answers and its link carries frames again', async () => {
    const h = get();
    const old = await nodeOf(h, 'b');
    await h.node('b').restart();
    const now = await nodeOf(h, 'b');
    expect({ state: now.state, newPid: now.pid !== old.pid }).toEqual({ state: 'ready', newPid: true });
    expect((await h.node('b').exec('echo back')).stdout.toString()).toBe('back\n');
    const before = await counters(h);
    await sendFrames(h, 'a', 2);
    const after = await settled(h, before, { 'a:eth1': 2 });
    expect(delta(before, after, 'b:eth1', (c) => c.tx.frames)).toBe(2);
  });

  it('a link taken down stays down across a restart: the new QEMU gets set_link down too', async () => {
    const h = get();
    await h.link('a:eth1').down();
    try {
      const mark = (await fake().readLog()).length;
      await h.node('b').restart();
      // Put back once the node is ready again, after restart() returned.
      const again = await until(async () => (await fake().readLog()).slice(mark).split('\n').find((l) => l.startsWith('b qmp set_link')), "b's set_link");
      expect(again).toBe('b qmp set_link {"name":"net1","up":false}');
      expect((await h.status()).links[0]!.state).toBe('down');
    } finally {
      await h.link('a:eth1').up();
    }
  });

  it('stop: the node is stopped and has no agent; start: it boots and answers again', async () => {
    const h = get();
    await h.node('b').stop();
    expect((await nodeOf(h, 'b')).state).toBe('stopped');
    await expect(h.node('b').exec('true')).rejects.toMatchObject({ code: 'E_NO_AGENT' });
    // The rest of the lab keeps running.
    expect((await h.node('a').exec('echo a')).exitCode).toBe(0);
    await h.node('b').start();
    expect((await nodeOf(h, 'b')).state).toBe('ready');
    expect((await h.node('b').exec('exit 3')).exitCode).toBe(3);
  });

  it('ports: none forwarded without a host network; hostPort says so', async () => {
    expect(await get().ports('a')).toEqual([]);
    await expect(get().hostPort('a', 22)).rejects.toThrow(expect.objectContaining({ code: 'E_NO_PORT' }));
  });

  it('unknown names are one clear error listing what exists', () => {
    expect(() => get().node('zz')).toThrow(expect.objectContaining({ code: 'E_NO_NODE', message: 'no node "zz" in lab speclife (nodes: a, b)' }));
    expect(() => get().link('zz:eth0')).toThrow(expect.objectContaining({ code: 'E_NO_LINK' }));
  });
});

describe('down() from a RemoteLab', () => {
  it('stops the lab for its owner too, and leaves no QEMU and no agent behind', async () => {
    const f = fake();
    const remote = await connect('speclife', { runDirBase: f.base });
    const pids = (await remote.status()).nodes.map((n) => n.pid!);
    await remote.down();
    await f.lab.stopped;
    expect(pids.filter((p) => existsSync(`/proc/${p}`))).toEqual([]);
    // Every agent harness of this lab (script, unshare) names the lab's busybox directory on its command line.
    const bin = f.env.FAKE_QEMU_BUSYBOX_BIN!;
    const left = await until(() => {
      const found = readdirSync('/proc').filter((p) => /^\d+$/.test(p) && (readFileSafe(`/proc/${p}/cmdline`) ?? '').includes(bin));
      return found.length === 0 ? found : undefined;
    }, 'the agents to go');
    expect(left).toEqual([]);
  });
});

function readFileSafe(file: string): string | undefined {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return undefined;
  }
}
