// The next `up` of a lab keeps the pcaps of the earlier run: moved to a timestamped directory, never overwritten.
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SupervisorEvent } from '../../src/api/events.js';
import { up } from '../../src/control/up.js';
import { iface, node, topology } from '../helpers/model.js';

const fake = fileURLToPath(new URL('../fixtures/fake-qemu.mjs', import.meta.url));
let base: string;
let cap: string;

beforeEach(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-capdir-'));
  cap = path.join(base, 'cap');
  process.env.TOPO_QEMU = fake;
});
afterEach(async () => {
  delete process.env.TOPO_QEMU;
  await rm(base, { recursive: true, force: true });
});

const vm = (name: string) => node(name, { kernel: fake, ready: { console: 'fake: ready \\S+', timeoutMs: 10_000 }, interfaces: [iface('eth0', { link: 'l1' })] });
const captured = () => topology([vm('a'), vm('b')], {
  name: 'capkeep',
  links: [{ id: 'l1', index: 0, kind: 'p2p', mtu: 1500, capture: true, endpoints: [{ node: 'a', iface: 'eth0', mac: 'x' }, { node: 'b', iface: 'eth0', mac: 'y' }] }],
});

async function upAndDown(): Promise<string[]> {
  const notices: string[] = [];
  const lab = await up(captured(), { accel: 'tcg', runDirBase: path.join(base, 'run'), captureDir: cap, onEvent: (e: SupervisorEvent) => void (e.type === 'notice' && notices.push(e.message)) });
  await lab.down();
  return notices;
}

describe('the capture directory of a lab', () => {
  it("moves the earlier run's pcap to a directory named after its time, says where, and leaves other files alone", async () => {
    await mkdir(cap);
    await writeFile(path.join(cap, 'l1.pcap'), 'the earlier run');
    await writeFile(path.join(cap, 'notes.txt'), 'mine');
    const when = new Date('2026-12-07T05:00:00Z');
    await utimes(path.join(cap, 'l1.pcap'), when, when);
    const notices = await upAndDown();
    const moved = path.join(cap, '20261207T050000Z');
    expect(notices).toContain(`the captures of an earlier run of lab "capkeep" were moved to ${moved}`);
    expect(await readFile(path.join(moved, 'l1.pcap'), 'utf8')).toBe('the earlier run');
    expect(await readFile(path.join(cap, 'notes.txt'), 'utf8')).toBe('mine');
    // Two earlier runs that stopped in the same second get two directories.
    await writeFile(path.join(cap, 'l1.pcap'), 'the run after');
    await utimes(path.join(cap, 'l1.pcap'), when, when);
    expect(await upAndDown()).toContain(`the captures of an earlier run of lab "capkeep" were moved to ${moved}-2`);
    expect(await readFile(path.join(moved, 'l1.pcap'), 'utf8')).toBe('the earlier run');
    expect(await readFile(path.join(`${moved}-2`, 'l1.pcap'), 'utf8')).toBe('the run after');
  });

  it('says nothing and moves nothing on a first run, or when the pcap name is a symbolic link', async () => {
    expect((await upAndDown()).filter((n) => /captures of an earlier run/.test(n))).toEqual([]);
    await rm(path.join(cap, 'l1.pcap'), { force: true });
    await symlink('/etc/hostname', path.join(cap, 'l1.pcap'));
    const notices = await upAndDown();
    expect(notices.filter((n) => /captures of an earlier run/.test(n))).toEqual([]);
    expect(readdirSync(cap).sort()).toEqual(['l1.pcap']);
    expect(existsSync('/etc/hostname')).toBe(true);
  });
});
