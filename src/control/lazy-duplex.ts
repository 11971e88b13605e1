// A stream the caller can use at once while its control connection is still opening.
import { Duplex } from 'node:stream';

/** A Duplex usable at once, bridged to a socket that is still connecting; destroy() just closes it. */
export function lazyDuplex(pending: Promise<Duplex>): Duplex {
  let sock: Duplex | undefined;
  const queued: (() => void)[] = [];
  const whenOpen = (fn: () => void) => (sock ? fn() : queued.push(fn));
  const d = new Duplex({
    read() {
      sock?.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      whenOpen(() => sock!.write(chunk, cb));
    },
    final(cb) {
      whenOpen(() => sock!.end(cb));
    },
    destroy(err, cb) {
      sock?.destroy();
      cb(err);
    },
  });
  pending.then(
    (s) => {
      // Given up on before the lab answered (a waitForConsole that timed out): the connection must not linger.
      if (d.destroyed) return void s.destroy();
      sock = s;
      s.on('data', (b: Buffer) => {
        if (!d.push(b)) s.pause();
      });
      s.on('end', () => d.push(null));
      s.on('close', () => d.destroy());
      s.on('error', () => undefined);
      s.resume();
      for (const fn of queued.splice(0)) fn();
    },
    (err: Error) => d.destroy(err),
  );
  return d;
}
