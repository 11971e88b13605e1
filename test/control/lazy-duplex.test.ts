// The Duplex a RemoteLab hands out before its connection is open (console, channel, capture, waitForConsole).
import { Duplex, PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { lazyDuplex } from '../../src/control/lazy-duplex.js';

describe('lazyDuplex', () => {
  it('what is written before the connection opens arrives after, and what comes back is read', async () => {
    let open!: (s: Duplex) => void;
    const d = lazyDuplex(new Promise((resolve) => (open = resolve)));
    d.write('early');
    const got: string[] = [];
    // A socket: what is written goes to the lab, what is pushed comes from it.
    const sock = new Duplex({ read() {}, write: (c: Buffer, _e, cb) => (got.push(c.toString()), cb()) });
    open(sock);
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual(['early']);
    const back = new Promise<string>((resolve) => d.once('data', (b: Buffer) => resolve(b.toString())));
    sock.push('reply');
    expect(await back).toBe('reply');
    d.destroy();
  });

  it('destroyed before the connection opened (a waitForConsole that timed out): the connection is closed when it comes', async () => {
    let open!: (s: PassThrough) => void;
    const d = lazyDuplex(new Promise((resolve) => (open = resolve)));
    d.destroy();
    const sock = new PassThrough();
    open(sock);
    await new Promise((r) => setImmediate(r));
    expect(sock.destroyed).toBe(true);
  });

  it('a connection that fails to open is the stream error', async () => {
    const d = lazyDuplex(Promise.reject(new Error('no node "x"')));
    await expect(new Promise((_, reject) => d.on('error', reject))).rejects.toThrow('no node "x"');
  });
});
