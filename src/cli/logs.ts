// `topo logs [LAB] NODE [-f] [--tail N]`: what the node's console printed, and following.
import { ControlConnection } from '../control/client.js';
import { socketOf } from '../control/labs.js';
import { findLab, splitLab, type LabFlags } from './lab-args.js';

export async function logsCommand(words: string[], flags: LabFlags & { follow?: boolean; tail?: number }): Promise<number> {
  const { lab, rest } = splitLab(words, 1, '[LAB] NODE');
  const entry = await findLab(lab, flags);
  const sock = await ControlConnection.stream(socketOf(entry), entry.lab, { op: 'logs', node: rest[0]!, follow: flags.follow, tail: flags.tail });
  return new Promise<number>((resolve) => {
    sock.on('data', (b: Buffer) => process.stdout.write(b));
    sock.on('close', () => resolve(0));
    sock.resume();
  });
}
