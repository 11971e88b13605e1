// Thin typed wrapper over the native addon; loaded lazily so pure modules import without it.

import { createRequire } from 'node:module';

type SocketPairFn = (type?: number) => unknown;
let fn: SocketPairFn | null = null;

/** A connected AF_UNIX SOCK_STREAM pair, both ends CLOEXEC|NONBLOCK. */
export function socketPair(): [number, number] {
  fn ??= createRequire(import.meta.url)('unix-socketpair') as SocketPairFn;
  const fds = fn();
  if (!Array.isArray(fds) || fds.length !== 2 || !fds.every((x) => Number.isInteger(x))) {
    throw new Error('unix-socketpair returned an unexpected value');
  }
  return [fds[0] as number, fds[1] as number];
}
