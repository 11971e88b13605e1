// Whether a process still runs, for assertions: a zombie has exited (a detached supervisor is re-parented to a
// PID 1 that may reap it late, or never).
import { readFileSync } from 'node:fs';

export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}
