// `topo capture [LAB] ENDPOINT [-w FILE|-] [--format pcap|pcapng]`: a live capture of a forwarded link, from now on.
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { Socket } from 'node:net';
import type { FileHandle } from 'node:fs/promises';
import { TopoError } from '../errors.js';
import { openClient, splitLab, type LabFlags } from './lab-args.js';
import { onStdoutGone } from './stdio.js';

export async function captureCommand(words: string[], flags: LabFlags & { write?: string; format?: 'pcap' | 'pcapng' }): Promise<number> {
  const { lab, rest } = splitLab(words, 1, '[LAB] ENDPOINT');
  const toStdout = flags.write === undefined || flags.write === '-';
  if (toStdout && process.stdout.isTTY) {
    throw new TopoError('refusing to write a capture to a terminal', { code: 'E_USAGE', hint: 'use -w FILE, or pipe it: topo capture LAB r1:eth1 | tcpdump -r -' });
  }
  const remote = await openClient(lab, flags);
  let file: FileHandle | undefined;
  try {
    // Opened before the capture starts, so a file that cannot be written is one error line and no stream.
    // O_EXCL-free on purpose: -w names a file of the user's choosing, like tcpdump -w.
    file = toStdout ? undefined : await open(flags.write!, 'w').catch((err: NodeJS.ErrnoException) => {
      throw writeError(flags.write!, err);
    });
    const out: Writable = file ? createWriteStream('', { fd: file }) : process.stdout;
    return await pump(await remote.open({ op: 'capture', endpoint: rest[0]!, format: flags.format }), out, file, flags.write);
  } catch (err) {
    await file?.close();
    throw err;
  } finally {
    await remote.close();
  }
}

/** Capture bytes to `out` until the lab, the reader or a signal ends it; 1 when the file's last bytes fail. */
function pump(sock: Socket, out: Writable, file: FileHandle | undefined, write: string | undefined): Promise<number> {
  return new Promise<number>((resolve) => {
    let done = false;
    const stop = (err?: Error) => {
      if (done) return;
      done = true;
      sock.destroy();
      if (!file) return resolve(0);
      // The file's last bytes may still fail (ENOSPC): the capture succeeded only once they are written.
      let settled = false;
      const finish = (e?: Error | null) => {
        if (settled) return;
        settled = true;
        if (!e) return resolve(0);
        process.stderr.write(`topo: ${writeError(write!, e as NodeJS.ErrnoException).oneLine()}\n`);
        resolve(1);
      };
      if (err) return finish(err);
      out.once('error', finish);
      out.end(finish);
    };
    // The reader went away (`| head`, wireshark closed): stop quietly. A file that cannot be written is an error.
    if (file) out.on('error', (err) => stop(err));
    else onStdoutGone(() => stop());
    sock.on('close', () => stop());
    process.once('SIGINT', () => stop());
    process.once('SIGTERM', () => stop());
    sock.pipe(out, { end: false });
    sock.resume();
  });
}

function writeError(file: string, err: NodeJS.ErrnoException): TopoError {
  return new TopoError(`cannot write the capture to ${file}: ${err.message}`, { code: 'E_CAPTURE_WRITE', hint: 'choose another -w FILE', cause: err });
}
