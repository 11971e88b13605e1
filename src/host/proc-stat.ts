// Whether a process still runs, from /proc/<pid>/stat: a zombie counts as gone (it has exited; only a parent
// that does not reap, such as a container's PID 1, keeps its entry), and the start time tells a reused pid apart.
import { readFile } from 'node:fs/promises';

/** Field 22 of /proc/<pid>/stat (clock ticks since boot); undefined when there is no such process or it exited. */
export async function processStartTime(pid: number): Promise<number | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
  const fields = text?.slice(text.lastIndexOf(')') + 2).split(' ');
  if (!fields || fields[0] === 'Z' || fields[0] === 'X') return undefined;
  const start = Number(fields[19]);
  return Number.isSafeInteger(start) ? start : undefined;
}
