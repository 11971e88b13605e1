// topo's own stdout and stderr: a reader that went away (`| head`, a `| tee` killed by the same Ctrl-C) is not an error.

let installed = false;

/**
 * Swallow write errors (EPIPE) on stdout and stderr for the rest of the process: without a listener Node turns them
 * into an uncaught exception, which would stop a teardown half-way or turn a lab that is up into exit 1.
 */
export function tolerateClosedOutput(): void {
  if (installed) return;
  installed = true;
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
}

/** Calls `fn` once stdout can no longer be written: commands that only stream to it stop then (`topo logs -f | head`). */
export function onStdoutGone(fn: () => void): void {
  tolerateClosedOutput();
  if (process.stdout.destroyed) return void queueMicrotask(fn);
  process.stdout.once('error', fn);
}
