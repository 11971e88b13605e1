import { afterEach, describe, expect, it } from 'vitest';
import { Duplex, PassThrough } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { AgentClient, shellQuote, type AgentClientOptions } from '../../src/guest/agent-client.js';
import { ByteBudget } from '../../src/host/lines.js';
import { until } from '../helpers/wait.js';

/**
 * An in-process channel: what the client writes, the fake guest reads, and the other way round.
 * With `pong` the fake agent answers pings by itself (the client greets before its first command).
 */
function channel(opts: { pong?: boolean } = { pong: true }) {
  const toGuest = new PassThrough();
  const toHost = new PassThrough();
  const host = Duplex.from({ readable: toHost, writable: toGuest });
  const lines: string[] = [];
  let pending = '';
  toGuest.on('data', (c: Buffer) => {
    pending += c.toString('latin1');
    for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (opts.pong && line.startsWith('P ')) toHost.write(`O ${line.slice(2)}\n`);
      else lines.push(line);
    }
  });
  const next = async (): Promise<string[]> => {
    await until('a line from the agent client', () => lines.length > 0, { timeoutMs: 25_000, intervalMs: 1 });
    return lines.shift()!.split(' ');
  };
  return { host, toHost, next, lines };
}

const b64 = (b: Buffer | string) => (b.length === 0 ? '-' : Buffer.from(b).toString('base64'));
const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');
const clients: AgentClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
function client(host: Duplex, opts?: AgentClientOptions): AgentClient {
  const c = new AgentClient(host, 'r1', opts);
  clients.push(c);
  return c;
}

describe('AgentClient', () => {
  it('sends X requests and decodes R replies', async () => {
    const ch = channel();
    const c = client(ch.host);
    const p = c.exec(`echo "$HOME" 'é'\nfalse`, { timeoutMs: 1500 });
    const x = await ch.next();
    expect(x).toHaveLength(4);
    const [kind, id, timeout, cmd] = x;
    expect([kind, timeout]).toEqual(['X', '1500']);
    expect(unb64(cmd)).toBe(`echo "$HOME" 'é'\nfalse`);
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

  it('keeps several requests in flight and matches replies by id, in any order', async () => {
    const ch = channel();
    const c = client(ch.host);
    const a = c.exec('a');
    const b = c.exec('b', { timeoutMs: 1000 });
    const sent = [await ch.next(), await ch.next()];
    const idOf = (cmd: string) => sent.find((l) => unb64(l[3]) === cmd)![1];
    // b is answered first; stray replies for ids nobody waits for are ignored; b's reply is split mid-line.
    ch.toHost.write(`O 999\nR 999 5 0 - -\nR ${idOf('b')} 137 1 - `);
    ch.toHost.write(`${b64('killed')}\n`);
    expect(await b).toMatchObject({ exitCode: 137, timedOut: true, stderr: Buffer.from('killed') });
    ch.toHost.write(`R ${idOf('a')} 0 0 ${b64('A')} -\n`);
    expect((await a).stdout.toString()).toBe('A');
  });

  it('sends stdin as a fifth base64 field, byte-exact', async () => {
    const ch = channel();
    const c = client(ch.host);
    const input = randomBytes(70_000);
    const p = c.exec('md5sum', { stdin: input });
    const [kind, id, , cmd, stdin, ...rest] = await ch.next();
    expect([kind, unb64(cmd), rest]).toEqual(['X', 'md5sum', []]);
    expect(Buffer.from(stdin!, 'base64').equals(input)).toBe(true);
    ch.toHost.write(`R ${id} 0 0 - -\n`);
    await p;
    const q = c.exec('cat', { stdin: 'text' });
    const [, id2, , , stdin2] = await ch.next();
    expect(unb64(stdin2)).toBe('text');
    ch.toHost.write(`R ${id2} 0 0 - -\n`);
    await q;
  });

  it('runs an argv array quoted for sh', async () => {
    const ch = channel();
    const c = client(ch.host);
    const p = c.exec(['ip', 'addr', "it's $HOME"]);
    const [, id, , cmd] = await ch.next();
    expect(unb64(cmd)).toBe(`ip addr 'it'\\''s $HOME'`);
    ch.toHost.write(`R ${id} 0 0 - -\n`);
    await p;
  });

  it('on abort sends K for the request, rejects with E_ABORTED and ignores the late reply', async () => {
    const ch = channel();
    const c = client(ch.host);
    const ac = new AbortController();
    const p = c.exec('sleep 100', { signal: ac.signal });
    const [, id] = await ch.next();
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'E_ABORTED', node: 'r1' });
    expect(await ch.next()).toEqual(['K', id]);
    ch.toHost.write(`R ${id} 137 0 - -\n`);
    // The client still works, and an already aborted signal sends nothing at all.
    await expect(c.exec('x', { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'E_ABORTED' });
    const q = c.exec('true');
    const [kind, id2, , cmd] = await ch.next();
    expect([kind, unb64(cmd)]).toEqual(['X', 'true']);
    ch.toHost.write(`R ${id2} 0 0 - -\n`);
    expect((await q).exitCode).toBe(0);
  });

  it('gives up on a command after the default reply timeout, and kills it', async () => {
    const ch = channel();
    const c = client(ch.host, { defaultReplyTimeoutMs: 50 });
    const p = c.exec('sleep 100');
    const [, id] = await ch.next();
    await expect(p).rejects.toMatchObject({ code: 'E_AGENT', message: expect.stringMatching(/no reply from the guest agent within 50 ms/) });
    expect(await ch.next()).toEqual(['K', id]);
  });

  it('reports E_NO_AGENT with a clear message when the agent never answers', async () => {
    const ch = channel({ pong: false });
    const c = client(ch.host, { greetingTimeoutMs: 30 });
    const err = await c.exec('true').catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'E_NO_AGENT',
      node: 'r1',
      message: "node r1 does not answer on the topo agent channel: is it running topo's default guest?",
    });
    // Only the greeting went out: no command was sent to a guest that does not listen.
    expect(ch.lines.map((l) => l.split(' ')[0])).toEqual(['P']);
    expect(await c.ready(20)).toBe(false);
  });

  it('ready() is true once the agent answers; a later unanswered ping is E_AGENT', async () => {
    const ch = channel({ pong: false });
    const c = client(ch.host);
    const r = c.ready(1000);
    const [kind, id] = await ch.next();
    expect(kind).toBe('P');
    ch.toHost.write(`O ${id}\n`);
    expect(await r).toBe(true);
    await expect(c.ping(30)).rejects.toMatchObject({ code: 'E_AGENT' });
  });

  it('fails every running command with E_AGENT when the channel closes, and later calls too', async () => {
    const ch = channel();
    const c = client(ch.host);
    const p = c.exec('sleep 100');
    const q = c.exec('sleep 200');
    await ch.next();
    await ch.next();
    ch.toHost.end();
    await expect(p).rejects.toMatchObject({ code: 'E_AGENT', node: 'r1' });
    await expect(q).rejects.toMatchObject({ code: 'E_AGENT', node: 'r1' });
    await expect(c.exec('true')).rejects.toMatchObject({ code: 'E_AGENT' });
    expect(await c.ready(1000)).toBe(false);
  });

  it('drops a reply over the 64 MiB output limit without holding it, fails that command with E_OUTPUT_LIMIT, and goes on', async () => {
    const ch = channel();
    const c = client(ch.host);
    const p = c.exec('yes');
    const [, id] = await ch.next();
    const chunk = Buffer.alloc(1 << 20, 0x41);
    ch.toHost.write(`R ${id} 0 0 `);
    for (let i = 0; i < 90; i++) ch.toHost.write(chunk);
    ch.toHost.write(' -\n');
    await expect(p).rejects.toMatchObject({ code: 'E_OUTPUT_LIMIT', message: expect.stringContaining('over 64 MiB (stdout and stderr together)') });
    const q = c.exec('true');
    const [, id2] = await ch.next();
    ch.toHost.write(`R ${id2} 0 0 ${b64('fine')} -\n`);
    expect((await q).stdout.toString()).toBe('fine');
  });

  it('all agent channels together hold at most their shared budget: the reply over it fails with E_BUSY', async () => {
    const budget = new ByteBudget(1 << 20);
    const [ch1, ch2] = [channel(), channel()];
    const [c1, c2] = [client(ch1.host, { budget }), client(ch2.host, { budget })];
    const [p1, p2] = [c1.exec('a'), c2.exec('b')];
    const [[, id1], [, id2]] = [await ch1.next(), await ch2.next()];
    const half = 'A'.repeat(600 * 1024);
    ch1.toHost.write(`R ${id1} 0 0 ${half}`);
    ch2.toHost.write(`R ${id2} 0 0 ${half}`);
    await expect(p2).rejects.toMatchObject({ code: 'E_BUSY', message: expect.stringContaining('already hold 1 MiB') });
    ch1.toHost.write(' -\n');
    expect((await p1).stdout.length).toBe(450 * 1024);
    expect(budget.inUse).toBe(0);
  });

  it('a lower maxOutput is exact: 10 bytes pass, 11 fail', async () => {
    const ch = channel();
    const c = client(ch.host);
    const ok = c.exec('a', { maxOutput: 10 });
    const over = c.exec('b', { maxOutput: 10 });
    const [[, a], [, b]] = [await ch.next(), await ch.next()];
    ch.toHost.write(`R ${a} 0 0 ${b64('12345')} ${b64('67890')}\nR ${b} 0 0 ${b64('12345')} ${b64('678901')}\n`);
    expect((await ok).stderr.toString()).toBe('67890');
    await expect(over).rejects.toMatchObject({ code: 'E_OUTPUT_LIMIT', message: expect.stringContaining('over 10 bytes') });
  });

  it('refuses a timeout no timer can hold (1e20 ms, 30 days) with a message, before sending anything', async () => {
    const ch = channel();
    const c = client(ch.host);
    for (const timeoutMs of [1e20, 30 * 24 * 3600 * 1000]) {
      await expect(c.exec('true', { timeoutMs })).rejects.toMatchObject({ code: 'E_BAD_REQUEST', message: expect.stringContaining('longer than the longest exec timeout, 24 days') });
    }
    expect(ch.lines.filter((l) => l.startsWith('X'))).toEqual([]);
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

describe('shellQuote', () => {
  it('gives sh exactly the words it was given', () => {
    const words = ['printf', '[%s]\\n', "it's", '$HOME', '`id`', 'a b', '', '\\', '"q"', "''", 'é ✓', 'new\nline', '-n', '*', '~', 'x;y|z&'];
    const out = execFileSync('sh', ['-c', shellQuote(words)], { encoding: 'utf8' });
    expect(out).toBe(words.slice(2).map((w) => `[${w}]\n`).join(''));
  });

  it('leaves plainly safe words bare', () => {
    expect(shellQuote(['ip', '-o', 'addr', 'show', 'dev', 'eth0', '10.0.0.1/24', 'a=b,c:d@e%f+g'])).toBe('ip -o addr show dev eth0 10.0.0.1/24 a=b,c:d@e%f+g');
    expect(shellQuote(['a b', ''])).toBe(`'a b' ''`);
  });
});
