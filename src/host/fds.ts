// Raw socketpair fds for QEMU (Node has no socketpair(2)); both ends are CLOEXEC so only explicit stdio slots reach a child.
import { closeSync } from 'node:fs';
import net from 'node:net';

export { socketPair } from './socketpair.js';

/** Close a raw fd we own, ignoring EBADF (already closed by a wrapper). */
export function closeFd(fd: number | undefined): void {
  if (fd === undefined) return;
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

/** Wrap the runner's end of a pair in a net.Socket; the socket then owns the fd. */
export function socketFromFd(fd: number): net.Socket {
  return new net.Socket({ fd, readable: true, writable: true });
}
