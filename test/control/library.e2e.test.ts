// The same control surface from TypeScript only: up() in this process, connect() as another client would.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, up, type Lab, type RemoteLab } from '../../src/index.js';
import { waitUntil } from '../helpers/wait.js';

let base: string;
let lab: Lab;
let remote: RemoteLab;

beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-lib-'));
  const file = path.join(base, 'lib.yaml');
  await writeFile(
    file,
    'name: lib\ndefaults: { memory: 192M, host_network: false }\nnodes:\n  a: { channels: [data] }\n  b: {}\nlinks:\n  - endpoints: [a:eth0, b:eth0]\n    addresses: [10.0.9.1/24, 10.0.9.2/24]\n',
  );
  lab = await up(file, { accel: 'tcg', runDirBase: base });
  remote = await connect('lib', { runDirBase: base });
});

afterAll(async () => {
  remote?.close();
  await lab?.down();
  await rm(base, { recursive: true, force: true });
});

describe('connect() to a running lab', () => {
  it('status has the nodes ready and the link up', async () => {
    const s = await remote.status();
    expect(s.nodes.map((n) => n.state)).toEqual(['ready', 'ready']);
    expect(s.links[0]).toMatchObject({ endpoints: ['a:eth0', 'b:eth0'], state: 'up' });
  });

  it('exec: exit code and byte-exact output, argv, stdin, timeout', async () => {
    const r = await remote.node('a').exec(['sh', '-c', 'printf "%s" "$1"; printf x >&2; exit 7', 'sh', "a 'b' $c"]);
    expect(r.exitCode).toBe(7);
    expect(r.stdout.toString()).toBe("a 'b' $c");
    expect(r.stderr.toString()).toBe('x');
    const data = randomBytes(50_000);
    expect((await remote.node('b').exec('cat', { stdin: data })).stdout.equals(data)).toBe(true);
    const slow = await remote.node('a').exec('sleep 20', { timeout: 500 });
    expect(slow).toMatchObject({ timedOut: true, exitCode: 137 });
  });

  it('link(endpoint).down() cuts the carrier, up() restores it', async () => {
    await remote.link('b:eth0').down();
    expect((await remote.node('b').exec('cat /sys/class/net/eth0/carrier')).stdout.toString().trim()).toBe('0');
    expect((await remote.status()).links[0]!.state).toBe('down');
    await remote.link('b:eth0').up();
    const ping = await remote.node('a').exec('for i in 1 2 3 4 5; do ping -c1 -W1 10.0.9.2 && exit 0; done; exit 1');
    expect(ping.exitCode).toBe(0);
  });

  it('channel(name) is a binary-safe Duplex to a guest program', async () => {
    const data = randomBytes(2048);
    await remote.node('a').exec('(head -c 2048 /dev/virtio-ports/data | md5sum > /tmp/sum; printf done > /dev/virtio-ports/data) >/dev/null 2>&1 &');
    const chan = remote.node('a').channel('data');
    const reply = new Promise<string>((resolve) => chan.on('data', (b: Buffer) => resolve(b.toString())));
    chan.write(data);
    expect(await reply).toBe('done');
    chan.destroy();
    const { createHash } = await import('node:crypto');
    expect((await remote.node('a').exec('cat /tmp/sum')).stdout.toString()).toContain(createHash('md5').update(data).digest('hex'));
  });

  it('waitForConsole and console(): what the guest prints, and what we type', async () => {
    const seen = remote.node('b').waitForConsole(/marker-\d+/, { timeout: 30_000 });
    await new Promise((r) => setTimeout(r, 300));
    await remote.node('b').exec('echo marker-123 > /dev/console');
    expect(await seen).toMatch(/marker-123/);
    const con = remote.node('b').console();
    let out = '';
    con.on('data', (b: Buffer) => (out += b.toString()));
    con.write('echo typed-$((2+3))\r');
    await waitUntil(() => out.includes('typed-5'), { what: 'typed-5 on the console', timeoutMs: 20_000 });
    con.destroy();
    expect(out).toContain('typed-5');
  });

  it('a client that goes away mid-exec has its command killed in the guest; the lab keeps serving', async () => {
    const other = await connect('lib', { runDirBase: base });
    const abort = new AbortController();
    const pending = other.node('a').exec('sleep 77', { signal: abort.signal }).catch((e: unknown) => e);
    const running = async () => (await remote.node('a').exec('ps')).stdout.toString().includes('sleep 77');
    await waitUntil(running, { what: 'sleep 77 to run', timeoutMs: 5000 });
    expect(await running()).toBe(true);
    abort.abort();
    expect(await pending).toBeInstanceOf(Error);
    await waitUntil(async () => !(await running()), { what: 'sleep 77 to be killed', timeoutMs: 5000 });
    expect(await running()).toBe(false);
    other.close();
  });

  it('unknown names are one clear error listing what exists', async () => {
    expect(() => remote.node('zz')).toThrow(/no node "zz" in lab lib \(nodes: a, b\)/);
    expect(() => remote.link('zz:eth0')).toThrow(/no link "zz:eth0"/);
    await expect(connect('nope', { runDirBase: base })).rejects.toThrow(/no lab "nope" \(running: lib\)/);
  });

  it('down() from the client stops the lab: the owner sees it stop, nothing is left', async () => {
    const pids = (await remote.status()).nodes.map((n) => n.pid!);
    await remote.down();
    await lab.stopped;
    expect(pids.filter((p) => existsSync(`/proc/${p}`))).toEqual([]);
    expect(existsSync(path.join(base, 'lib'))).toBe(false);
  });
});
