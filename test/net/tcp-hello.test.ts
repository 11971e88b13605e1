// The hello on its own, against a scripted peer: an overlong line is refused, and the bytes after the proof (the
// first frames) come back whole, even when they arrive with the proof and hold a newline byte.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { handshake, helloLine, HelloRefused, MAX_HELLO_LINE, parseHello, proofFor, type HelloAuth } from '../../src/net/tcp-hello.js';

const auth: HelloAuth = { lab: 'lab1', link: 'l1', epoch: 1, secret: Buffer.alloc(32, 7) };
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A connected pair: ours (runs handshake as `dial`) and the scripted peer's. */
async function pair(): Promise<{ ours: Socket; peer: Socket }> {
  const server = createServer();
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const accepted = once(server, 'connection');
  const ours = connect(port, '127.0.0.1');
  await once(ours, 'connect');
  const [peer] = (await accepted) as [Socket];
  return { ours, peer };
}

/** Reads one line off the peer's socket. */
async function readLine(sock: Socket): Promise<string> {
  let text = '';
  for (;;) {
    const [chunk] = (await once(sock, 'data')) as [Buffer];
    text += chunk.toString();
    if (text.includes('\n')) return text.slice(0, text.indexOf('\n'));
  }
}

describe('tcp hello', () => {
  it('refuses a hello line longer than MAX_HELLO_LINE as malformed', async () => {
    const { ours, peer } = await pair();
    const done = handshake(ours, auth, 'dial', 5000);
    peer.write('x'.repeat(MAX_HELLO_LINE + 1));
    const err = await done.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HelloRefused);
    expect((err as HelloRefused).reason).toBe('malformed');
    expect((err as Error).message).toBe(`hello line longer than ${MAX_HELLO_LINE} bytes`);
    ours.destroy();
    peer.destroy();
  });

  it('gives back every byte after the proof, a newline among them, when they come with the proof', async () => {
    const { ours, peer } = await pair();
    const done = handshake(ours, auth, 'dial', 5000);
    const mine = randomBytes(32);
    const theirs = Buffer.from(parseHello(await readLine(peer)).nonce, 'hex');
    peer.write(helloLine(auth, 'listen', mine));
    // Wait for its proof (it has read our hello by then), then send ours with the first frames in one write.
    let got = '';
    while (!got.includes('\n')) got += String((await once(peer, 'data'))[0]);
    const frames = Buffer.from([0, 0, 0, 3, 0x0a, 0x0b, 0x0c, 0x0a, 1, 2]);
    peer.write(Buffer.concat([Buffer.from(`${proofFor(auth, 'listen', mine, theirs).toString('hex')}\n`), frames]));
    expect(await done).toEqual(frames);
    ours.destroy();
    peer.destroy();
  });
});
