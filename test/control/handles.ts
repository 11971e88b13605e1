// Helpers for driving a fake lab through a LabHandle: traffic on its link, counters, console and pcap reading.
import type { Duplex, Readable } from 'node:stream';
import type { LabHandle } from '../../src/api/handles.js';
import type { LinkCounters } from '../../src/api/dataplane.js';
import { until } from './fake-lab.js';

/** The counters of the lab's one link, by endpoint. */
export async function counters(h: LabHandle): Promise<Record<string, LinkCounters>> {
  const link = (await h.status()).links[0]!;
  return Object.fromEntries((link.counters ?? []).map((c) => [c.endpoint, c]));
}

/** Make `node`'s fake QEMU send `n` frames on each NIC whose link is up (typed into its console, see fake-node.mjs). */
export function sendFrames(h: LabHandle, node: string, n: number): Promise<void> {
  const con = h.node(node).console();
  return new Promise((resolve, reject) => {
    con.write(`fake-frames ${n}\r`, (err) => {
      con.destroy();
      if (err) reject(err);
      else resolve();
    });
  });
}

/** Every frame sent so far has been counted as received from its sender (the forwarder has seen them all). */
export async function settled(h: LabHandle, before: Record<string, LinkCounters>, sent: Record<string, number>): Promise<Record<string, LinkCounters>> {
  return until(async () => {
    const now = await counters(h);
    const done = Object.entries(sent).every(([ep, n]) => now[ep]!.rx.frames - before[ep]!.rx.frames === n);
    const out = (ep: string) => now[ep]!.tx.frames + now[ep]!.drops.loss - before[ep]!.tx.frames - before[ep]!.drops.loss;
    // Each frame was either handed over or lost on its way (which way is the caller's to check).
    const total = Object.values(sent).reduce((x, y) => x + y, 0);
    return done && out('a:eth1') + out('b:eth1') === total ? now : undefined;
  }, `frames ${JSON.stringify(sent)} counted`);
}

/** Delta of one counter between two snapshots. */
export const delta = (a: Record<string, LinkCounters>, b: Record<string, LinkCounters>, ep: string, pick: (c: LinkCounters) => number) => pick(b[ep]!) - pick(a[ep]!);

/** Collect a stream's bytes as they come. */
export function collect(stream: Readable): { text: () => string; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  stream.on('data', (b: Buffer) => chunks.push(b));
  // A control stream comes paused (ControlConnection.stream): a listener alone does not start it.
  stream.resume();
  return { text: () => Buffer.concat(chunks).toString('latin1'), bytes: () => Buffer.concat(chunks) };
}

/** The frames of a classic pcap file (microsecond or nanosecond, little-endian as topo writes it). */
export function pcapFrames(buf: Buffer): Buffer[] {
  if (buf.length < 24) return [];
  const frames: Buffer[] = [];
  for (let off = 24; off + 16 <= buf.length; ) {
    const len = buf.readUInt32LE(off + 8);
    if (off + 16 + len > buf.length) break;
    frames.push(buf.subarray(off + 16, off + 16 + len));
    off += 16 + len;
  }
  return frames;
}

/** The fake payload of a frame: "<node> netX seq K". */
export const payload = (frame: Buffer) => frame.subarray(14).toString('latin1').replace(/\0.*$/s, '');

/** A node's console stream, once it surely receives (a typed line came back through it). */
export async function liveConsole(h: LabHandle, node: string): Promise<{ stream: Duplex; text: () => string }> {
  const stream = h.node(node).console();
  const seen = collect(stream);
  const probe = `probe-${Math.random().toString(36).slice(2)}`;
  await until(async () => {
    stream.write(`${probe}\r`);
    await new Promise((r) => setTimeout(r, 50));
    return seen.text().includes(probe) ? true : undefined;
  }, `${node}'s console`);
  return { stream, text: seen.text };
}
