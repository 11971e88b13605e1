// One specification of a node's control surface (exec, cp, console, channel), run against the Lab of up() and the
// RemoteLab of connect() alike: fake QEMUs whose nodes run the real guest agent under busybox, no VM.
import { randomBytes } from 'node:crypto';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ControlConnection } from '../../src/control/client.js';
import { download, upload } from '../../src/scenario/copy.js';
import { labAndRemote, until } from './fake-lab.js';
import { collect } from './handles.js';

const { fake, handles } = labAndRemote('specnode');

describe.each(handles)('%s', (label, get) => {
  // Both handles share one lab (and, the agent being busybox on this host, one file system): keep paths apart.
  const tag = label.includes('TCP') ? 'tcp' : label.includes('Remote') ? 'remote' : 'local';

  it('status lists both nodes ready and the forwarded link up', async () => {
    const s = await get().status();
    expect(s.nodes.map((n) => [n.name, n.state])).toEqual([['a', 'ready'], ['b', 'ready']]);
    expect(s.links).toMatchObject([{ id: 'l1', endpoints: ['a:eth1', 'b:eth1'], state: 'up', kind: 'forwarded' }]);
  });

  it('exec keeps stdout and stderr apart and passes the exit code through', async () => {
    const r = await get().node('a').exec('printf out; printf err >&2; exit 7');
    expect({ code: r.exitCode, timedOut: r.timedOut, out: r.stdout.toString(), err: r.stderr.toString() }).toEqual({ code: 7, timedOut: false, out: 'out', err: 'err' });
    expect((await get().node('b').exec('exit 0')).exitCode).toBe(0);
    // Killed by a signal: 128 + N, as a shell reports it.
    expect((await get().node('b').exec('kill -TERM $$')).exitCode).toBe(143);
  });

  it('exec quotes an argv word by word and feeds stdin byte-exact', async () => {
    const r = await get().node('a').exec(['sh', '-c', 'printf "%s|" "$@"', 'sh', "a 'b'", '$c', '']);
    expect(r.stdout.toString()).toBe("a 'b'|$c||");
    const data = randomBytes(100_000);
    const echoed = await get().node('b').exec('cat', { stdin: data });
    expect(echoed.stdout.equals(data)).toBe(true);
  });

  it('exec past its timeout is killed and says so', async () => {
    const r = await get().node('a').exec('echo started; sleep 30; echo never', { timeout: 300 });
    expect({ code: r.exitCode, timedOut: r.timedOut, out: r.stdout.toString() }).toEqual({ code: 137, timedOut: true, out: 'started\n' });
  });

  it('an aborted exec is killed in the guest; the handle keeps serving', async () => {
    const abort = new AbortController();
    const marker = `sleep 7${{ local: 1, remote: 2, tcp: 3 }[tag]}`;
    const pending = get().node('a').exec(marker, { signal: abort.signal }).catch((e: unknown) => e);
    const running = async () => (await get().node('a').exec('ps -o args')).stdout.toString().split('\n').includes(marker);
    await until(async () => ((await running()) ? true : undefined), `${marker} running`);
    abort.abort();
    expect(await pending).toBeInstanceOf(Error);
    await until(async () => ((await running()) ? undefined : true), `${marker} killed`);
  });

  it('cp up keeps the bytes and the mode', async () => {
    const local = path.join(fake().base, `up-${tag}`);
    const data = randomBytes(5000);
    await writeFile(local, data);
    await chmod(local, 0o750);
    const guest = path.join(fake().base, `in-guest-${tag}`);
    expect(await upload(get().node('a'), local, guest)).toBe(5000);
    expect((await get().node('a').exec(['stat', '-c', '%a', guest])).stdout.toString().trim()).toBe('750');
    expect((await get().node('a').exec(['md5sum', guest])).stdout.toString().split(' ')[0]).toBe((await import('node:crypto')).createHash('md5').update(data).digest('hex'));
  });

  it('cp down keeps the bytes; the mode loses setuid and goes through the umask', async () => {
    const guest = path.join(fake().base, `from-guest-${tag}`);
    await get().node('b').exec(['sh', '-c', 'printf "guest\\0bytes" > "$1"; chmod 4775 "$1"', 'sh', guest]);
    const local = path.join(fake().base, `down-${tag}`);
    const old = process.umask(0o027);
    try {
      expect(await download(get().node('b'), guest, local)).toBe(11);
    } finally {
      process.umask(old);
    }
    expect(await readFile(local)).toEqual(Buffer.from('guest\0bytes'));
    expect((await stat(local)).mode & 0o7777).toBe(0o750);
  });

  it('console: a typed line comes back, and waitForConsole sees it', async () => {
    const con = get().node('b').console();
    const seen = collect(con);
    const line = `typed-${tag}-${randomBytes(3).toString('hex')}`;
    const waited = get().node('b').waitForConsole(new RegExp(line));
    // waitForConsole of a remote lab subscribes over its own connection: type until it has seen the line.
    let got: string | undefined;
    void waited.then((l) => (got = l));
    await until(async () => {
      con.write(`${line}\r`);
      await new Promise((r) => setTimeout(r, 100));
      return got;
    }, 'the typed line');
    expect(got).toBe(line);
    expect(seen.text()).toContain(`${line}\r\n`);
    con.destroy();
  });

  it('channel: bytes written reach the guest program and its answer comes back (the fake echoes)', async () => {
    const chan = get().node('a').channel('data');
    const seen = collect(chan);
    const data = randomBytes(4096);
    chan.write(data);
    await until(() => (seen.bytes().length >= data.length ? true : undefined), 'the echo');
    expect(seen.bytes().equals(data)).toBe(true);
    chan.removeAllListeners('data');
    chan.pause();
    // A client's channel connection holds the channel until it closes: let the next handle's spec have it (the Lab's own stream stays).
    if (tag !== 'local') chan.destroy();
  });

  it('an unknown channel is refused at once, naming the ones there are', () => {
    expect(() => get().node('a').channel('nope')).toThrow(expect.objectContaining({ code: 'E_NO_CHANNEL', message: 'node a has no channel "nope" (channels: data)' }));
  });
});

describe('the logs request of the control socket', () => {
  const logs = (req: { tail?: number; follow?: boolean }) => ControlConnection.stream(() => ControlConnection.open(fake().lab.runDir.file('control.sock'), 'specnode'), 'specnode', { op: 'logs', node: 'a', ...req });

  it('sends what the console printed so far, or its last lines with tail, then ends', async () => {
    const all = collect(await logs({}));
    const ended = (s: Readable) => new Promise((r) => s.once('close', r));
    const tail = await logs({ tail: 1 });
    const last = collect(tail);
    await ended(tail);
    await until(() => (all.text().includes('topo-guest: ready') ? true : undefined), 'the ready line');
    expect(all.text()).toMatch(/^booting a\r\n/);
    expect(last.text().split('\n').filter((l) => l !== '')).toHaveLength(1);
    expect(all.text().endsWith(last.text())).toBe(true);
  });

  it('with follow, goes on with what the console prints from then on', async () => {
    const sock = await logs({ follow: true, tail: 0 });
    const got = collect(sock);
    const con = fake().lab.node('a').console();
    await until(() => {
      con.write('followed-line\r');
      return got.text().includes('followed-line\r\n') ? true : undefined;
    }, 'the followed line');
    con.destroy();
    sock.destroy();
    expect(got.text()).not.toContain('booting a');
  });
});
