import net from 'node:net';
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { encodeFrame } from '../../src/net/framing.js';
import { FramePort } from '../../src/net/port.js';
import { socketPair } from '../../src/net/socketpair.js';
import { until } from './helpers.js';

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
    port.on('frame', (f) => got.push(f.toString()));
    peer.write(Buffer.concat([encodeFrame(Buffer.from('one')), encodeFrame(Buffer.from('two'))]));
    await until(() => got.length === 2);
    expect(got).toEqual(['one', 'two']);
    expect(port.counters).toMatchObject({ rxFrames: 2, rxBytes: 6 });
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
});
