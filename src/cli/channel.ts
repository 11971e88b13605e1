// `topo channel [LAB] NODE NAME`: a node's extra virtio-serial channel on our stdin/stdout, binary safe.
import type { Socket } from 'node:net';
import { splitLab, withLab, type LabFlags } from './lab-args.js';
import { onStdoutGone } from './stdio.js';

export async function channelCommand(words: string[], flags: LabFlags): Promise<number> {
  const { lab, rest } = splitLab(words, 2, '[LAB] NODE NAME');
  return withLab(lab, flags, async (remote) => bridge(await remote.open({ op: 'channel', node: rest[0]!, name: rest[1]! })));
}

function bridge(sock: Socket): Promise<number> {
  return new Promise<number>((resolve) => {
    // stdin's end does not close the channel: the guest may still answer. The channel ends with the node or Ctrl-C.
    process.stdin.on('data', (b: Buffer) => sock.write(b));
    sock.on('data', (b: Buffer) => process.stdout.write(b));
    sock.on('close', () => resolve(0));
    onStdoutGone(() => sock.destroy());
    sock.resume();
  });
}
