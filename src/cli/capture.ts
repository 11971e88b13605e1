// `topo capture [LAB] ENDPOINT [-w FILE|-] [--format pcap|pcapng]`: a live capture of a forwarded link, from now on.
import { createWriteStream } from 'node:fs';
import { ControlConnection } from '../control/client.js';
import { socketOf } from '../control/labs.js';
import { TopoError } from '../errors.js';
import { findLab, splitLab, type LabFlags } from './lab-args.js';

export async function captureCommand(words: string[], flags: LabFlags & { write?: string; format?: 'pcap' | 'pcapng' }): Promise<number> {
  const { lab, rest } = splitLab(words, 1, '[LAB] ENDPOINT');
  const toStdout = flags.write === undefined || flags.write === '-';
  if (toStdout && process.stdout.isTTY) {
    throw new TopoError('refusing to write a capture to a terminal', { code: 'E_USAGE', hint: 'use -w FILE, or pipe it: topo capture LAB r1:eth1 | tcpdump -r -' });
  }
  const entry = await findLab(lab, flags);
  const sock = await ControlConnection.stream(socketOf(entry), entry.lab, { op: 'capture', endpoint: rest[0]!, format: flags.format });
  // O_EXCL-free on purpose: -w names a file of the user's choosing, like tcpdump -w.
  const out = toStdout ? process.stdout : createWriteStream(flags.write!);
  return new Promise<number>((resolve) => {
    const stop = () => {
      sock.destroy();
      if (out !== process.stdout) out.end();
      resolve(0);
    };
    // The reader went away (`| head`, wireshark closed): stop quietly.
    out.on('error', stop);
    sock.on('close', stop);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    sock.pipe(out, { end: false });
    sock.resume();
  });
}
