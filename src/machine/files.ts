// Where one machine's files go (variable stores, TPM state): the lab's run directory provides it.
export interface MachineFiles {
  file(name: string): string;
  /** A new file (O_CREAT|O_EXCL|O_NOFOLLOW); returns its path. */
  createFile(name: string, data: string | Uint8Array, mode?: number): Promise<string>;
  /** A new directory (0700); returns its path. */
  createDir(name: string): Promise<string>;
  /** A new append-only file (O_EXCL|O_NOFOLLOW) for a log; the caller owns the fd. */
  openLogFd(name: string): number;
}
