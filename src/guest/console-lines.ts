// What the host reads on a guest's console: the lines init.sh prints (ready, a failed `run:`) and the kernel's last words.
import { isReadyLine, readyLine } from './config.js';

/** How a guest left, from the kernel's own lines (QEMU 7.2 exits 0 after each under -no-reboot). */
export type GuestExit = 'panic' | 'reboot' | 'poweroff';

export type ConsoleLine =
  | { kind: 'ready' }
  | { kind: 'guest-exit'; cause: GuestExit }
  /** init.sh's `log "run[$i] failed with exit code $rc: <command>"`: detail is "run[N] failed ...". */
  | { kind: 'run-failed'; detail: string };

const GUEST_EXITS: readonly [RegExp, GuestExit][] = [[/Kernel panic/, 'panic'], [/reboot: Restarting system/, 'reboot'], [/reboot: Power down/, 'poweroff']];
/** init.sh's log() prefix, then `run[N] failed with exit code RC: COMMAND`. */
const RUN_FAILED = /topo-guest: (run\[\d+\] failed.*)$/;

/** What the line means to the host, if anything; `nonce` is this run's (a ready line of another run is not ready). */
export function parseConsoleLine(line: string, nonce?: string): ConsoleLine | undefined {
  if (nonce !== undefined && isReadyLine(line, nonce)) return { kind: 'ready' };
  const failed = RUN_FAILED.exec(line);
  if (failed) return { kind: 'run-failed', detail: failed[1]! };
  for (const [re, cause] of GUEST_EXITS) if (re.test(line)) return { kind: 'guest-exit', cause };
  return undefined;
}

/** What the guest did last, from the console's last lines. */
export function guestExitCause(consoleTail: string): GuestExit | undefined {
  const lines = consoleTail.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const parsed = parseConsoleLine(lines[i]!);
    if (parsed?.kind === 'guest-exit') return parsed.cause;
  }
  return undefined;
}

/** The ready line as a line pattern (the shape machine/readiness.ts matches with). */
export function readyLinePattern(nonce: string): { readonly source: string; test(line: string): boolean } {
  return { source: readyLine(nonce), test: (line) => parseConsoleLine(line, nonce)?.kind === 'ready' };
}

export const GUEST_EXIT_WORDS: Record<GuestExit, string> = {
  panic: 'the guest kernel panicked',
  reboot: 'the guest rebooted (allow_reboot: true resets it in place instead)',
  poweroff: 'the guest powered off',
};
