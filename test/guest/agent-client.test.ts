import { afterEach, describe, expect, it } from 'vitest';
import { Duplex, PassThrough } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { AgentClient } from '../../src/guest/agent-client.js';

/** An in-process channel: what the client writes, the fake guest reads, and the other way round. */
function channel() {
  const toGuest = new PassThrough();
  const toHost = new PassThrough();
  const host = Duplex.from({ readable: toHost, writable: toGuest });
  const lines: string[] = [];
  let pending = '';
  toGuest.on('data', (c: Buffer) => {
    pending += c.toString('latin1');
    for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
      lines.push(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  });
  const next = async (): Promise<string[]> => {
    while (lines.length === 0) await new Promise((r) => setTimeout(r, 1));
    return lines.shift()!.split(' ');
  };
  return { host, toHost, next };
}

const b64 = (b: Buffer | string) => (b.length === 0 ? '-' : Buffer.from(b).toString('base64'));
const clients: AgentClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
function client(host: Duplex): AgentClient {
  const c = new AgentClient(host, 'r1');
  clients.push(c);
  return c;
}

describe('AgentClient', () => {
  it('sends X requests and decodes R replies', async () => {
    const ch = channel();
    const c = client(ch.host);
    const p = c.exec(`echo "$HOME" 'é'\nfalse`, { timeoutMs: 1500 });
    const [kind, id, timeout, cmd] = await ch.next();
    expect([kind, timeout]).toEqual(['X', '1500']);
    expect(Buffer.from(cmd!, 'base64').toString('utf8')).toBe(`echo "$HOME" 'é'\nfalse`);
    ch.toHost.write(`R ${id} 1 0 ${b64('out\n')} ${b64('')}\n`);
    expect(await p).toEqual({ exitCode: 1, timedOut: false, stdout: Buffer.from('out\n'), stderr: Buffer.alloc(0) });
  });

  it('reassembles a large reply split across many chunks, byte-exact', async () => {
    const ch = channel();
    const c = client(ch.host);
    const data = randomBytes(3 << 20);
    const p = c.exec('cat /tmp/x');
    const [, id] = await ch.next();
    const line = Buffer.from(`R ${id} 0 0 ${b64(data)} ${b64('warn')}\n`);
    for (let i = 0; i < line.length; i += 65_521) ch.toHost.write(line.subarray(i, i + 65_521));
    const r = await p;
    expect(createHash('sha256').update(r.stdout).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    expect(r.stderr.toString()).toBe('warn');
  });

  it('runs queued requests one at a time and ignores replies for other ids', async () => {
    const ch = channel();
    const c = client(ch.host);
    const a = c.exec('a');
    const b = c.exec('b', { timeoutMs: 1000 });
    const [, idA] = await ch.next();
    await new Promise((r) => setTimeout(r, 20));
    ch.toHost.write(`O 999\nR 999 5 0 - -\nR ${idA} 0 0 - -\n`);
    const [kindB, idB, , cmdB] = await ch.next();
    expect([kindB, Buffer.from(cmdB!, 'base64').toString()]).toEqual(['X', 'b']);
    // Both lines in one chunk, and the reply split mid-line.
    ch.toHost.write(`R ${idB} 137 1 - `);
    ch.toHost.write(`${b64('killed')}\n`);
    expect((await a).exitCode).toBe(0);
    expect(await b).toMatchObject({ exitCode: 137, timedOut: true, stderr: Buffer.from('killed') });
  });

  it('pings, and times out a ping nobody answers', async () => {
    const ch = channel();
    const c = client(ch.host);
    const p = c.ping(1000);
    const [kind, id] = await ch.next();
    expect(kind).toBe('P');
    ch.toHost.write(`O ${id}\n`);
    await expect(p).resolves.toBeUndefined();
    await expect(c.ping(30)).rejects.toMatchObject({ code: 'E_AGENT' });
  });

  it('fails the running command with E_AGENT when the channel closes, and later calls too', async () => {
    const ch = channel();
    const c = client(ch.host);
    const p = c.exec('sleep 100');
    await ch.next();
    ch.toHost.end();
    await expect(p).rejects.toMatchObject({ code: 'E_AGENT', node: 'r1' });
    await expect(c.exec('true')).rejects.toMatchObject({ code: 'E_AGENT' });
  });

  it('reports an E reply as an error', async () => {
    const ch = channel();
    const c = client(ch.host);
    const p = c.exec('x');
    const [, id] = await ch.next();
    ch.toHost.write(`E ${id} ${b64('bad base64 command')}\n`);
    await expect(p).rejects.toThrow(/bad base64 command/);
  });
});
