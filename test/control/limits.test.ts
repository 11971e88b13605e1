// Sizes on the control socket, served for a stub lab whose exec echoes stdin back as stdout: the 64 MiB data
// limit holds both ways whatever the encoding, every error reaches its request, all connections share one buffer budget.
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlConnection } from '../../src/control/client.js';
import { RemoteLab } from '../../src/control/remote-lab.js';
import { serveLab, type ControlServer } from '../../src/control/server.js';
import { MAX_DATA_BYTES } from '../../src/control/protocol.js';
import type { LabStatus } from '../../src/api/status.js';
import { retry } from '../helpers/wait.js';

const BUDGET = 4 * 1024 * 1024;
let dir: string;
let server: ControlServer;
let small: ControlServer;
let remote: RemoteLab;
const status = { lab: 'lim', nodes: [{ name: 'a' }], links: [] } as unknown as LabStatus;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'topo-limits-'));
  const lab = {
    name: 'lim',
    status: async () => status,
    exec: async (_node: string, _cmd: unknown, opts: { stdin?: Buffer }) => ({ exitCode: 0, timedOut: false, stdout: opts.stdin ?? Buffer.alloc(0), stderr: Buffer.alloc(0) }),
  };
  const host = (prefix: string) => ({ file: (n: string) => path.join(dir, `${prefix}${n}`), journal: () => undefined });
  server = await serveLab(lab as never, host('') as never);
  small = await serveLab(lab as never, host('small-') as never, { bufferBudget: BUDGET });
  remote = new RemoteLab('lim', () => ControlConnection.open(server.path, 'lim'), await ControlConnection.open(server.path, 'lim'), status);
});
afterAll(async () => {
  remote?.close();
  await server?.close();
  await small?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A raw connection: the hello, then every reply line. */
function rawConn(to = server) {
  const sock = net.createConnection(to.path);
  const replies: Record<string, unknown>[] = [];
  let buf = '';
  let closed = false;
  sock.on('data', (b: Buffer) => {
    buf += b.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      replies.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
      buf = buf.slice(nl + 1);
    }
  });
  sock.on('error', () => undefined);
  sock.on('close', () => (closed = true));
  const until = (n: number) => retry(() => (replies.length >= n || closed) && replies, { what: `${n} replies (or the close)`, timeoutMs: 60_000, intervalMs: 10 });
  return { sock, replies, until, isClosed: () => closed };
}

describe('control socket limits', () => {
  it('an exec with exactly 64 MiB of stdin and 64 MiB of output succeeds (base64 is larger than 64 MiB both ways)', async () => {
    const data = Buffer.alloc(MAX_DATA_BYTES, 0xa5);
    const r = await remote.exec('a', 'cat', { stdin: data });
    expect(r.stdout.length).toBe(MAX_DATA_BYTES);
    expect(r.stdout.equals(data)).toBe(true);
  }, 60_000);

  it('one byte more fails at once with E_TOO_LARGE naming the limit', async () => {
    const err = await remote.exec('a', 'cat', { stdin: Buffer.alloc(MAX_DATA_BYTES + 1) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_TOO_LARGE', message: expect.stringContaining('64 MiB (67108864 bytes)') });
  });

  it('an overlong request line gets E_TOO_LARGE under its own id, and the connection goes on', async () => {
    const c = rawConn();
    const huge = `{"id":5,"v":1,"op":"exec","node":"a","cmd":"cat","stdin":"${'A'.repeat(100 * 1024 * 1024)}"}\n`;
    c.sock.write(huge);
    c.sock.write('{"id":6,"v":1,"op":"status"}\n');
    const [, tooLarge, ok] = await c.until(3);
    c.sock.destroy();
    expect(tooLarge).toMatchObject({ id: 5, ok: false, error: { code: 'E_TOO_LARGE', message: expect.stringContaining('64 MiB') } });
    expect(ok).toMatchObject({ id: 6, ok: true, result: { lab: 'lim' } });
  }, 60_000);

  it('the client gets an error the server could not tie to a request (id 0) instead of waiting forever', async () => {
    const fake = path.join(dir, 'fake.sock');
    const srv = net.createServer((s) => {
      s.write('{"topo":"control","version":1,"lab":"x","pid":1}\n');
      s.once('data', () => s.write('{"id":0,"ok":false,"error":{"code":"E_TOO_LARGE","message":"request too large"}}\n'));
    });
    await new Promise<void>((r) => srv.listen(fake, () => r()));
    try {
      const conn = await ControlConnection.open(fake, 'x');
      await expect(conn.request({ op: 'status' })).rejects.toMatchObject({ code: 'E_TOO_LARGE' });
      conn.close();
    } finally {
      srv.close();
    }
  });

  it('all connections together buffer at most the budget: the one over it gets E_BUSY and is closed, the others go on', async () => {
    const conns = [rawConn(small), rawConn(small), rawConn(small)];
    await Promise.all(conns.map((c) => c.until(1)));
    // Three unfinished lines of 1.5 MiB each do not fit in 4 MiB.
    const part = `{"id":9,"v":1,"op":"status","pad":"${'x'.repeat(1.5 * 1024 * 1024)}`;
    for (const c of conns) await new Promise<void>((r) => c.sock.write(part, () => r()));
    await retry(() => conns.some((c) => c.isClosed()), { what: 'one connection closed', timeoutMs: 60_000, intervalMs: 10 });
    expect(small.buffered).toBeLessThanOrEqual(BUDGET);
    const busy = conns.filter((c) => c.replies.some((r) => (r.error as { code?: string } | undefined)?.code === 'E_BUSY'));
    expect(busy).toHaveLength(1);
    expect(busy[0]!.replies[1]).toMatchObject({ id: 9, ok: false, error: { code: 'E_BUSY' } });
    for (const c of conns.filter((x) => !busy.includes(x))) c.sock.write('"}\n');
    for (const c of conns.filter((x) => !busy.includes(x))) expect(await c.until(2)).toMatchObject([{}, { id: 9, ok: true }]);
    for (const c of conns) c.sock.destroy();
  });

  it('compares protocol versions as numbers: "1" is 1, and a wrong one is quoted as sent', async () => {
    const c = rawConn();
    c.sock.write('{"id":1,"v":"1","op":"status"}\n{"id":2,"v":"2","op":"status"}\n');
    const replies = await c.until(3);
    c.sock.destroy();
    const [one, two] = [1, 2].map((id) => replies.find((r) => r.id === id));
    expect(one).toMatchObject({ id: 1, ok: true });
    expect(two).toMatchObject({ id: 2, ok: false, error: { code: 'E_PROTOCOL', message: `control protocol version "2" is not supported by this lab's topo (it speaks 1)` } });
  });
});
