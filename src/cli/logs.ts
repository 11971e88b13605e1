// `topo logs [LAB] NODE [-f] [--tail N]`: what the node's console printed, and following.
import type { Socket } from 'node:net';
import { PrintableStream } from '../host/printable.js';
import { splitLab, withLab, type LabFlags } from './lab-args.js';
import { onStdoutGone } from './stdio.js';

export async function logsCommand(words: string[], flags: LabFlags & { follow?: boolean; tail?: number }): Promise<number> {
  const { lab, rest } = splitLab(words, 1, '[LAB] NODE');
  return withLab(lab, flags, async (remote) => follow(await remote.open({ op: 'logs', node: rest[0]!, follow: flags.follow, tail: flags.tail })));
}

function follow(sock: Socket): Promise<number> {
  // On a terminal the guest's escapes (OSC 52 clipboard writes, titles, clear screen) are shown, not obeyed; piped: raw bytes.
  const shown = process.stdout.isTTY ? new PrintableStream() : undefined;
  return new Promise<number>((resolve) => {
    sock.on('data', (b: Buffer) => process.stdout.write(shown ? shown.write(b) : b));
    sock.on('close', () => {
      if (shown) process.stdout.write(shown.end());
      resolve(0);
    });
    // The reader went away (`topo logs -f | head`): nothing more to show.
    onStdoutGone(() => sock.destroy());
    sock.resume();
  });
}
