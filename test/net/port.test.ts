import net from 'node:net';
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MAX_FRAME_LEN, encodeFrame, encodeHeader, maxFrameLenFor } from '../../src/net/framing.js';
import { FramePort } from '../../src/net/port.js';
import { socketPair } from '../../src/host/socketpair.js';
import { BROADCAST, ethFrame, payloadOf, until } from './helpers.js';

const A = '02:00:00:00:00:0a';

function pair(): { port: FramePort; peer: net.Socket } {
  const [a, b] = socketPair();
  return {
    port: new FramePort(new net.Socket({ fd: a, readable: true, writable: true })),
    peer: new net.Socket({ fd: b, readable: true, writable: true }),
  };
}

/** A sink that never drains: stands in for a guest that stopped reading. */
class Stuck extends Duplex {
  override _read(): void {}
  override _write(_c: Buffer, _e: BufferEncoding, _cb: (err?: Error | null) => void): void {}
}

describe('FramePort', () => {
  it('receives frames and counts them', async () => {
    const { port, peer } = pair();
    const got: string[] = [];
    port.on('frame', (f) => got.push(payloadOf(f)));
    peer.write(Buffer.concat([encodeFrame(ethFrame(BROADCAST, A, 'one')), encodeFrame(ethFrame(BROADCAST, A, 'two'))]));
    await until(() => got.length === 2);
    expect(got).toEqual(['one', 'two']);
    expect(port.counters).toMatchObject({ rxFrames: 2, rxBytes: 34 });
    peer.destroy();
    await until(() => port.closed, 'close on peer EOF');
  });

  it('sends framed frames, batching a tick into one write', async () => {
    const { port, peer } = pair();
    const chunks: Buffer[] = [];
    peer.on('data', (c: Buffer) => chunks.push(c));
    for (let i = 0; i < 100; i++) port.send(Buffer.from(`f${i}`));
    const expected = Buffer.concat(Array.from({ length: 100 }, (_, i) => encodeFrame(Buffer.from(`f${i}`))));
    await until(() => Buffer.concat(chunks).length === expected.length);
    expect(Buffer.concat(chunks).equals(expected)).toBe(true);
    expect(port.counters).toMatchObject({ txFrames: 100, txDrops: 0 });
    await port.closeAndWait();
    peer.destroy();
  });

  it('drops instead of queueing without bound when the peer does not read', () => {
    const port = new FramePort(new Stuck(), { maxQueueBytes: 10_000 });
    let sent = 0;
    for (let i = 0; i < 100; i++) if (port.send(Buffer.alloc(1000))) sent++;
    // The bound is checked before each write, so it can be exceeded by at most one frame.
    expect(sent).toBe(10);
    expect(port.counters.txDrops).toBe(90);
    port.close();
    expect(port.send(Buffer.alloc(1))).toBe(false);
  });

  it('closes on a protocol error', async () => {
    const { port, peer } = pair();
    const errors: Error[] = [];
    port.on('protocolError', (e) => errors.push(e));
    peer.on('error', () => {});
    const bad = Buffer.alloc(4);
    bad.writeUInt32BE(0xffffffff);
    peer.write(bad);
    await until(() => port.closed);
    expect(errors).toHaveLength(1);
    expect(port.counters.protocolErrors).toBe(1);
    await until(() => peer.destroyed || peer.readableEnded, 'peer sees EOF');
    peer.destroy();
  });

  it('skips frames shorter than an Ethernet header (length 0 too), counts them and keeps reading', async () => {
    const { port, peer } = pair();
    const got: string[] = [];
    port.on('frame', (f) => got.push(payloadOf(f)));
    const runts = [Buffer.alloc(0), Buffer.alloc(1), Buffer.alloc(13)].map(encodeFrame);
    peer.write(Buffer.concat([...runts, encodeFrame(ethFrame(BROADCAST, A, 'after runts'))]));
    await until(() => got.length === 1);
    expect(got).toEqual(['after runts']);
    expect(port.counters).toMatchObject({ malformed: 3, protocolErrors: 0, rxFrames: 1 });
    expect(port.closed).toBe(false);
    peer.destroy();
  });

  it('accepts a 65,535-byte frame and closes on a length of 65,536', async () => {
    const { port, peer } = pair();
    const sizes: number[] = [];
    const errors: Error[] = [];
    port.on('frame', (f) => sizes.push(f.length));
    port.on('protocolError', (e) => errors.push(e));
    peer.on('error', () => {});
    peer.write(encodeFrame(ethFrame(BROADCAST, A, '', MAX_FRAME_LEN)));
    await until(() => sizes.length === 1);
    peer.write(encodeHeader(MAX_FRAME_LEN + 1));
    await until(() => port.closed);
    expect(sizes).toEqual([65_535]);
    expect(errors.map((e) => e.message)).toEqual(['frame length 65536 exceeds 65535']);
    expect(port.counters).toMatchObject({ malformed: 1, protocolErrors: 1 });
    peer.destroy();
  });

  it('lets a link with a 65,535-byte MTU carry its largest frame (header and VLAN tag on top)', () => {
    expect(maxFrameLenFor(1500)).toBe(MAX_FRAME_LEN);
    expect(maxFrameLenFor(65_535)).toBe(65_535 + 18);
  });

  it('counts a frame cut off by the peer going away as malformed', async () => {
    const { port, peer } = pair();
    // 100 bytes announced, 10 sent, then EOF: stream order guarantees the port sees the bytes first.
    peer.end(Buffer.concat([encodeHeader(100), Buffer.alloc(10)]));
    await until(() => port.closed, 'close on EOF');
    expect(port.counters).toMatchObject({ malformed: 1, rxFrames: 0, protocolErrors: 0 });
  });

  it('does not count a clean EOF between frames', async () => {
    const { port, peer } = pair();
    let frames = 0;
    port.on('frame', () => frames++);
    peer.end(encodeFrame(ethFrame(BROADCAST, A, 'last')));
    await until(() => port.closed);
    expect(frames).toBe(1);
    expect(port.counters.malformed).toBe(0);
  });

  it('splits what it could not send by cause: full queue, then closed', () => {
    const port = new FramePort(new Stuck(), { maxQueueBytes: 1000 });
    for (let i = 0; i < 5; i++) port.send(Buffer.alloc(600));
    port.close();
    port.send(Buffer.alloc(600));
    expect(port.counters).toMatchObject({ txFrames: 2, queueDrops: 3, closedDrops: 1, txDrops: 4 });
  });

  it('counts nothing with counters off, yet still filters runts', async () => {
    const [a, b] = socketPair();
    const port = new FramePort(new net.Socket({ fd: a, readable: true, writable: true }), { counters: false });
    const peer = new net.Socket({ fd: b, readable: true, writable: true });
    let frames = 0;
    port.on('frame', () => frames++);
    peer.write(Buffer.concat([encodeFrame(Buffer.alloc(5)), encodeFrame(ethFrame(BROADCAST, A, 'x'))]));
    await until(() => frames === 1);
    port.send(ethFrame(BROADCAST, A, 'y'));
    expect(port.counters).toMatchObject({ rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, malformed: 1 });
    await port.closeAndWait();
    peer.destroy();
  });
});
