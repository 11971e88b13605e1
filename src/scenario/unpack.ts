// Unpacking a bundle for replay, bounded: a bundle is input from someone else, so a gzip bomb must stop at the caps
// (not fill the disk), and an error or Ctrl-C in the middle must leave nothing behind.
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar';

/** Caps of a replayed bundle; topo's own bundles stay far below them (console logs are capped at 64 MiB a node). */
export const UNPACK_LIMITS = { bytes: 1024 ** 3, entries: 10_000 } as const;
export type UnpackLimits = { bytes: number; entries: number };

/** tar headers, padding and long names beside the files' own bytes: the stream may exceed the files by this much. */
const HEADER_SLACK = 64 * 1024 * 1024;

const size = (n: number) => (n >= 1024 ** 3 && n % 1024 ** 3 === 0 ? `${n / 1024 ** 3} GiB` : n >= 1024 ** 2 ? `${Math.round(n / 1024 ** 2)} MiB` : `${n} bytes`);

/** "1 GiB unpacked, 10,000 entries" */
export function capsText(limits: UnpackLimits): string {
  return `${size(limits.bytes)} unpacked, ${limits.entries.toLocaleString('en-US')} entries`;
}

/** Thrown when the signal stopped the unpacking (the directory is already removed then). */
export class UnpackInterrupted extends Error {}

/** Remove a directory tree even while writes into it are still settling (rmdir's ENOTEMPTY is retried). */
export async function removeTree(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 });
}

/**
 * Unpack the .tar.gz `file` into `dir` (plain files and directories only). Over a cap, on a corrupt archive or when
 * `signal` aborts, `dir` is removed and the error says why (caps named).
 */
export async function unpackBounded(file: string, dir: string, opts: { signal?: AbortSignal; limits?: UnpackLimits } = {}): Promise<void> {
  const limits = opts.limits ?? UNPACK_LIMITS;
  let entries = 0;
  let declared = 0;
  let stop: Error | undefined;
  const source = createReadStream(file);
  const gunzip = createGunzip();
  let streamed = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      streamed += chunk.length;
      if (streamed > limits.bytes + HEADER_SLACK) {
        halt(new Error(`it unpacks to more than ${size(limits.bytes)}, the limit of a replayed bundle`));
        return cb();
      }
      cb(null, chunk);
    },
  });
  // Plain files and directories only: a link in a bundle could point a replay at any host file.
  const filter = (_p: string, e: tar.ReadEntry | import('node:fs').Stats): boolean => {
    if (!('type' in e)) return true;
    if (stop) return false;
    if (++entries > limits.entries) {
      halt(new Error(`it has more than ${limits.entries.toLocaleString('en-US')} entries, the limit of a replayed bundle`));
      return false;
    }
    if (e.type !== 'File' && e.type !== 'Directory') return false;
    declared += e.size ?? 0;
    // Refused on the header's word, before its bytes are written: a 2 GB member costs nothing.
    if (declared > limits.bytes) {
      halt(new Error(`it unpacks to more than ${size(limits.bytes)}, the limit of a replayed bundle`));
      return false;
    }
    return true;
  };
  const unpack = new tar.Unpack({ cwd: dir, strict: true, filter });
  // Feeding stops at the archive's end, a cap, an error or Ctrl-C; the unpacker then finishes the writes it began, so
  // the directory is removed after them (removing it during them was rmdir's ENOTEMPTY).
  let fed = true;
  const stopFeeding = () => {
    if (!fed) return;
    fed = false;
    source.destroy();
    gunzip.unpipe(counter);
    counter.unpipe(unpack as unknown as NodeJS.WritableStream);
    unpack.end();
  };
  function halt(err: Error): Error {
    stop ??= err;
    stopFeeding();
    return err;
  }
  const onAbort = () => halt(new UnpackInterrupted('interrupted while unpacking'));
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      unpack.on('finish', done);
      unpack.on('close', done);
      // Bytes after the end-of-archive blocks are ignored; node-tar stops reading them without ever finishing.
      unpack.on('eof', stopFeeding);
      const failed = (err: Error) => {
        halt(err);
        // A safety net should the unpacker never settle after an error: the removal below retries anyway.
        timer ??= setTimeout(done, 5_000).unref();
      };
      for (const st of [source, gunzip, counter]) st.on('error', failed);
      unpack.on('error', failed);
      if (opts.signal?.aborted) onAbort();
      source.pipe(gunzip).pipe(counter).pipe(unpack as unknown as NodeJS.WritableStream);
    });
    if (stop) throw stop;
  } catch (err) {
    await removeTree(dir);
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
