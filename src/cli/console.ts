// `topo console [LAB] NODE`: the node's serial console, interactive; Ctrl-] leaves.
import { ControlConnection } from '../control/client.js';
import { socketOf } from '../control/labs.js';
import { findLab, splitLab, type LabFlags } from './lab-args.js';

const CTRL_RIGHT_BRACKET = 0x1d;

export async function consoleCommand(words: string[], flags: LabFlags): Promise<number> {
  const { lab, rest } = splitLab(words, 1, '[LAB] NODE');
  const entry = await findLab(lab, flags);
  const sock = await ControlConnection.stream(socketOf(entry), entry.lab, { op: 'console', node: rest[0]! });
  const tty = process.stdin.isTTY;
  process.stderr.write(`topo: connected to ${rest[0]}'s console in lab ${entry.lab}; Ctrl-] leaves\r\n`);
  if (tty) process.stdin.setRawMode(true);
  return new Promise<number>((resolve) => {
    const finish = () => {
      if (tty) process.stdin.setRawMode(false);
      process.stdin.off('data', onInput);
      process.stdin.pause();
      sock.destroy();
      process.stderr.write('\r\ntopo: console closed\r\n');
      resolve(0);
    };
    const onInput = (b: Buffer) => {
      const at = b.indexOf(CTRL_RIGHT_BRACKET);
      if (at >= 0) {
        if (at > 0) sock.write(b.subarray(0, at));
        return finish();
      }
      sock.write(b);
    };
    process.stdin.on('data', onInput);
    process.stdin.resume();
    sock.on('data', (b: Buffer) => process.stdout.write(b));
    sock.on('close', finish);
    sock.resume();
  });
}
