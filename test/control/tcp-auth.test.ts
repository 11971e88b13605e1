// The control protocol over TCP, against a stub lab: nothing of it reaches a peer that has not proved the lab secret
// (wrong secret either way, a replayed proof, an overlong or garbage line, silence), and the client says E_AUTH in one line.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachTcp } from '../../src/control/remote-lab.js';
import { MAX_IN_HELLO, serveLabTcp } from '../../src/control/server-tcp.js';
import { until } from './fake-lab.js';
import { controlHelloSpec } from '../../src/control/protocol.js';
import { helloLineOf, mutualHello, parseHelloOf, proofOf } from '../../src/host/mutual-hello.js';
import type { LabStatus } from '../../src/api/status.js';
import { TopoError } from '../../src/errors.js';

const secret = randomBytes(32);
const status = { lab: 'auth', nodes: [{ name: 'a', channels: [], ports: [] }], links: [] } as unknown as LabStatus;
const lab = {
  name: 'auth',
  status: async () => status,
  exec: async () => ({ exitCode: 3, timedOut: false, stdout: Buffer.from('hi'), stderr: Buffer.alloc(0) }),
};
const host = { file: () => '/nonexistent', journal: () => undefined };
let server: Awaited<ReturnType<typeof serveLabTcp>>;
let port: number;
const others: net.Server[] = [];

beforeAll(async () => {
  server = await serveLabTcp(lab as never, host as never, { host: '127.0.0.1', port: 0, secret, authTimeoutMs: 300 });
  port = server.address().port;
});
afterAll(async () => {
  await server?.close();
  for (const s of others) s.close();
});

/** Everything the server sends on a raw connection fed `lines`, until it closes the connection. */
async function rawSession(send: (sock: net.Socket, got: () => string) => Promise<void> | void): Promise<string> {
  const sock = net.createConnection({ host: '127.0.0.1', port });
  let text = '';
  sock.on('data', (b: Buffer) => (text += b.toString('latin1')));
  sock.on('error', () => undefined);
  await once(sock, 'connect');
  const closed = once(sock, 'close');
  await send(sock, () => text);
  await closed;
  return text;
}

const lineAt = async (got: () => string, n: number) => {
  while (got().split('\n').length <= n) await new Promise((r) => setTimeout(r, 10));
  return got().split('\n')[n - 1]!;
};

/** A server on a free port whose connections `onConn` handles (an impostor or a silent peer). */
async function otherServer(onConn: (sock: net.Socket) => void): Promise<number> {
  const s = net.createServer((sock) => {
    sock.on('error', () => undefined);
    onConn(sock);
  });
  others.push(s);
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  return (s.address() as net.AddressInfo).port;
}

const authError = async (p: Promise<unknown>) => {
  const err = (await p.then(() => undefined, (e: unknown) => e)) as TopoError;
  expect(err).toBeInstanceOf(TopoError);
  return { code: err.code, message: err.message };
};

describe('control over TCP', () => {
  it('serves the control protocol to a client holding the secret', async () => {
    const remote = await attachTcp({ lab: 'auth', host: '127.0.0.1', port, secret });
    expect((await remote.status()).lab).toBe('auth');
    expect((await remote.exec('a', 'x')).stdout.toString()).toBe('hi');
    await remote.close();
  });

  it('a client with a wrong secret gets E_AUTH in one line; the server sends it nothing of the protocol', async () => {
    const e = await authError(attachTcp({ lab: 'auth', host: '127.0.0.1', port, secret: randomBytes(32) }));
    expect(e).toEqual({ code: 'E_AUTH', message: `lab auth: refused by 127.0.0.1:${port} (wrong secret: it does not hold the same lab secret)` });
    // The same by hand: a proof made with another secret, and the server closes without a control hello.
    const wrong = controlHelloSpec('auth', randomBytes(32));
    const text = await rawSession(async (sock, got) => {
      const mine = randomBytes(32);
      sock.write(helloLineOf(wrong.version, wrong.identity, 'dial', mine));
      const theirs = Buffer.from(parseHelloOf(wrong.version, wrong.identity, await lineAt(got, 1)).nonce, 'hex');
      sock.write(`${proofOf(wrong, 'dial', mine, theirs).toString('hex')}\n`);
    });
    expect(text).not.toContain('"topo":"control"');
  });

  it('a server without the secret (an impostor) is refused by the client before any request', async () => {
    let requested = '';
    const impostor = await otherServer((sock) => {
      mutualHello(sock, controlHelloSpec('auth', randomBytes(32)), 'listen', 1000).then(
        () => sock.on('data', (b: Buffer) => (requested += b.toString())),
        () => sock.destroy(),
      );
    });
    const e = await authError(attachTcp({ lab: 'auth', host: '127.0.0.1', port: impostor, secret }));
    expect(e.code).toBe('E_AUTH');
    expect(e.message).toContain('wrong secret');
    expect(requested).toBe('');
  });

  it('a replayed hello and proof are refused: the server nonce is new on every connection', async () => {
    const spec = controlHelloSpec('auth', secret);
    let recorded = '';
    const first = await rawSession(async (sock, got) => {
      const mine = randomBytes(32);
      const hello = helloLineOf(spec.version, spec.identity, 'dial', mine);
      const theirs = Buffer.from(parseHelloOf(spec.version, spec.identity, await lineAt(got, 1)).nonce, 'hex');
      recorded = `${hello}${proofOf(spec, 'dial', mine, theirs).toString('hex')}\n`;
      sock.write(recorded);
      // The genuine session is served: the hello of the protocol comes after the server's proof.
      await lineAt(got, 3);
      sock.end();
    });
    expect(first.split('\n')[2]).toContain('"topo":"control"');
    const replay = await rawSession((sock) => void sock.write(recorded));
    expect(replay).not.toContain('"topo":"control"');
  });

  it('an overlong line, a garbage line and silence are refused without a byte of the protocol', async () => {
    for (const junk of ['x'.repeat(5000), 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', '']) {
      const text = await rawSession((sock) => void sock.write(junk));
      expect(text).not.toContain('"topo":"control"');
      // At most the server's own auth hello (and, for a well-formed-looking hello, its proof) went out.
      expect(text.split('\n').filter(Boolean).length).toBeLessThanOrEqual(1);
    }
  });

  it('a peer that is not a topo runner, or says nothing, is E_AUTH; a closed port is E_NOT_RUNNING', async () => {
    const ssh = await otherServer((sock) => sock.write('SSH-2.0-OpenSSH_9.2\r\n'));
    const e = await authError(attachTcp({ lab: 'auth', host: '127.0.0.1', port: ssh, secret, timeoutMs: 500 }));
    expect(e).toEqual({ code: 'E_AUTH', message: `lab auth: refused by 127.0.0.1:${ssh} (not a topo runner of lab auth: hello is not JSON)` });
    const silent = await otherServer(() => undefined);
    expect(await authError(attachTcp({ lab: 'auth', host: '127.0.0.1', port: silent, secret, timeoutMs: 200 }))).toEqual({
      code: 'E_AUTH', message: `lab auth: refused by 127.0.0.1:${silent} (not a topo runner of lab auth: no hello within 200 ms)`,
    });
    const other = await attachTcp({ lab: 'other', host: '127.0.0.1', port, secret }).catch((x: TopoError) => x);
    expect((other as TopoError).code).toBe('E_AUTH');
    const closedPort = await otherServer(() => undefined);
    await new Promise((r) => others.pop()!.close(r));
    const gone = await authError(attachTcp({ lab: 'auth', host: '127.0.0.1', port: closedPort, secret }));
    expect(gone).toEqual({ code: 'E_NOT_RUNNING', message: `lab auth: the runner at 127.0.0.1:${closedPort} does not answer (ECONNREFUSED)` });
  });
});

describe('serveLabTcp', () => {
  it('a taken port is one line, E_PORT_TAKEN', async () => {
    const err = await serveLabTcp(lab as never, host as never, { host: '127.0.0.1', port, secret }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_PORT_TAKEN', message: `cannot serve the control port 127.0.0.1:${port} (EADDRINUSE)` });
  });
});

describe('connections in their hello', () => {
  it('at most MAX_IN_HELLO wait at once: one more is closed at once; once they go, a client is served', async () => {
    const patient = await serveLabTcp(lab as never, host as never, { host: '127.0.0.1', port: 0, secret, authTimeoutMs: 60_000 });
    const p = patient.address().port;
    const silent: net.Socket[] = [];
    try {
      for (let i = 0; i < MAX_IN_HELLO; i++) {
        const s = net.createConnection({ host: '127.0.0.1', port: p });
        s.on('error', () => undefined);
        // Its server's hello line says it was taken in.
        await once(s, 'data');
        silent.push(s);
      }
      const extra = net.createConnection({ host: '127.0.0.1', port: p });
      extra.on('error', () => undefined);
      let got = '';
      extra.on('data', (b: Buffer) => (got += b.toString()));
      await once(extra, 'close');
      expect(got).toBe('');
      for (const s of silent) s.destroy();
      await until(async () => {
        const r = await attachTcp({ lab: 'auth', host: '127.0.0.1', port: p, secret }).catch(() => undefined);
        await r?.close();
        return r ? true : undefined;
      }, 'a client served again');
    } finally {
      for (const s of silent) s.destroy();
      await patient.close();
    }
  });
});
