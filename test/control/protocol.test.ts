// The control socket against bad clients and mismatched versions, on a lab of fake QEMUs.
import { lstatSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlConnection } from '../../src/control/client.js';
import { MAX_LINE_BYTES } from '../../src/control/protocol.js';
import { connect } from '../../src/control/remote-lab.js';
import { type Lab } from '../../src/runtime/lab.js';
import { up } from '../../src/control/up.js';
import { node, topology } from '../helpers/model.js';

const fake = fileURLToPath(new URL('../fixtures/fake-qemu.mjs', import.meta.url));
let base: string;
let lab: Lab;
let sockPath: string;

beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-proto-'));
  process.env.TOPO_QEMU = fake;
  lab = await up(topology([node('a', { kernel: fake, ready: { console: 'fake: ready', timeoutMs: 10_000 } })], { name: 'proto' }), { accel: 'tcg', runDirBase: base });
  sockPath = lab.runDir.file('control.sock');
});
afterAll(async () => {
  await lab?.down({ force: true });
  delete process.env.TOPO_QEMU;
  await rm(base, { recursive: true, force: true });
});

/** A raw client: the hello, then one reply per line sent. */
async function raw(lines: (string | Buffer)[]): Promise<unknown[]> {
  const sock = net.createConnection(sockPath);
  const got: unknown[] = [];
  let buf = '';
  await new Promise<void>((resolve, reject) => {
    sock.on('error', reject);
    sock.on('data', (b: Buffer) => {
      buf += b.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        got.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
      }
      if (got.length === lines.length + 1) resolve();
    });
    for (const l of lines) sock.write(l);
  });
  sock.destroy();
  return got;
}

describe('control socket', () => {
  it('is a socket only its owner can use, in a private directory', () => {
    expect(lstatSync(sockPath).mode & 0o777).toBe(0o600);
    expect(lstatSync(path.dirname(sockPath)).mode & 0o777).toBe(0o700);
  });

  it('greets with its protocol version and answers malformed, unknown and wrong-version requests with errors, then keeps serving', async () => {
    const [hello, ...replies] = await raw(['not json\n', '{"v":1,"id":2,"op":"fly"}\n', '{"v":99,"id":3,"op":"status"}\n', '{"v":1,"id":4,"op":"status"}\n']);
    // Replies carry the request's id; they may come in any order.
    const byId = (id: number) => replies.find((r) => (r as { id: number }).id === id);
    const [bad, unknown, version, status] = [byId(0), byId(2), byId(3), byId(4)];
    expect(hello).toMatchObject({ topo: 'control', version: 1, lab: 'proto' });
    expect(bad).toMatchObject({ ok: false, error: { code: 'E_BAD_REQUEST' } });
    expect(unknown).toMatchObject({ id: 2, ok: false, error: { code: 'E_BAD_REQUEST', message: 'unknown request "fly"' } });
    expect(version).toMatchObject({ id: 3, ok: false, error: { code: 'E_PROTOCOL' } });
    expect(status).toMatchObject({ id: 4, ok: true, result: { lab: 'proto', nodes: [{ name: 'a', state: 'ready' }] } });
  });

  it('a request over the size limit gets an error reply; the lab keeps serving', async () => {
    const huge = Buffer.alloc(MAX_LINE_BYTES + 1, 0x61);
    const [, tooLarge] = await raw([huge]);
    expect(tooLarge).toMatchObject({ ok: false, error: { code: 'E_TOO_LARGE' } });
    const remote = await connect('proto', { runDirBase: base });
    expect((await remote.status()).nodes[0]!.state).toBe('ready');
    remote.close();
  });

  it('a topo of another protocol version gets a clear error, not a hang', async () => {
    const other = path.join(base, 'other.sock');
    const server = net.createServer((s) => s.write('{"topo":"control","version":2,"lab":"x","pid":1}\n'));
    await new Promise<void>((r) => server.listen(other, () => r()));
    try {
      await expect(ControlConnection.open(other, 'x')).rejects.toThrow(/lab x speaks control protocol version 2; this topo speaks 1/);
    } finally {
      server.close();
    }
  });

  it('a socket that is not ours is refused before connecting', async () => {
    await expect(ControlConnection.open('/etc/passwd', 'x')).rejects.toThrow(/refusing \/etc\/passwd: not a socket/);
  });
});
