// `topo console [LAB] NODE`: the node's serial console, interactive; Ctrl-] leaves, and so does end of input.
import type { LabClient } from '../control/remote-lab.js';
import { splitLab, withLab, type LabFlags } from './lab-args.js';

const CTRL_RIGHT_BRACKET = 0x1d;
/** After end of input: leave once the console printed nothing for this long, so the last reply shows. */
export const EOF_QUIET_MS = 1000;
/** ... but never linger longer than this behind a console that keeps printing. */
export const EOF_LINGER_MAX_MS = 10_000;

export async function consoleCommand(words: string[], flags: LabFlags): Promise<number> {
  const { lab, rest } = splitLab(words, 1, '[LAB] NODE');
  return withLab(lab, flags, (remote) => session(remote, rest[0]!));
}

async function session(remote: LabClient, node: string): Promise<number> {
  const sock = await remote.open({ op: 'console', node });
  const tty = process.stdin.isTTY;
  process.stderr.write(`topo: connected to ${node}'s console in lab ${remote.name}; ${tty ? 'Ctrl-]' : 'Ctrl-] or end of input'} leaves\r\n`);
  if (tty) process.stdin.setRawMode(true);
  return new Promise<number>((resolve) => {
    let done = false;
    let quiet: NodeJS.Timeout | undefined;
    let linger: NodeJS.Timeout | undefined;
    /** 0: we left (Ctrl-] or end of input); 1: the lab closed the console first (node stopped, lab down). */
    const finish = (code: 0 | 1) => {
      if (done) return;
      done = true;
      clearTimeout(quiet);
      clearTimeout(linger);
      if (tty) process.stdin.setRawMode(false);
      process.stdin.off('data', onInput);
      process.stdin.off('end', onEnd);
      process.stdin.pause();
      sock.destroy();
      process.stderr.write(code === 0 ? '\r\ntopo: console closed\r\n' : '\r\ntopo: console closed by the lab\r\n');
      resolve(code);
    };
    const onInput = (b: Buffer) => {
      const at = b.indexOf(CTRL_RIGHT_BRACKET);
      if (at >= 0) {
        if (at > 0) sock.write(b.subarray(0, at));
        return finish(0);
      }
      sock.write(b);
    };
    // Piped or redirected input: everything is typed, then the reply is shown until the console goes quiet.
    const onEnd = () => {
      const leave = () => finish(0);
      sock.write('', () => {
        quiet = setTimeout(leave, EOF_QUIET_MS);
        linger = setTimeout(leave, EOF_LINGER_MAX_MS);
      });
    };
    process.stdin.on('data', onInput);
    process.stdin.once('end', onEnd);
    process.stdin.resume();
    sock.on('data', (b: Buffer) => {
      process.stdout.write(b);
      quiet?.refresh();
    });
    sock.on('close', () => finish(1));
    sock.resume();
  });
}
