// Children in their own process groups: a terminal's Ctrl-C reaches only topo, and topo alone decides how they stop.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';

export interface GroupChild {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves once the group leader is reaped. */
  readonly exited: Promise<{ code?: number; signal?: string }>;
  /** Signal the whole process group (a wrapper script's QEMU too); a no-op once it is gone. */
  kill(signal: NodeJS.Signals): void;
}

export interface SpawnGroupOptions {
  /** Extra inherited fds, becoming the child's fds 3, 4, ... */
  fds?: readonly number[];
  cwd?: string;
  env?: Record<string, string>;
  /** Record the group in the lab's janitor so it dies even if topo is SIGKILLed. */
  janitor?: Janitor;
}

/**
 * Spawn `argv` under `setpriv --pdeathsig KILL` in a new session (its own process group). No execa here:
 * its kill timers and exit hooks must not act on long-lived QEMUs; topo's signal module owns their lifetime.
 */
export function spawnGroup(argv: readonly string[], opts: SpawnGroupOptions = {}): GroupChild {
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', ...argv], {
    stdio: ['ignore', 'pipe', 'pipe', ...(opts.fds ?? [])],
    detached: true,
    cwd: opts.cwd,
    env: opts.env,
  });
  const exited = new Promise<{ code?: number; signal?: string }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code: code ?? undefined, signal: signal ?? undefined }));
    // spawn failures (ENOENT of setpriv) arrive as 'error' without 'exit'.
    child.once('error', () => resolve({ code: 127 }));
  });
  const pid = child.pid ?? -1;
  if (pid > 0) {
    opts.janitor?.add(pid);
    // The leader is gone: whatever it left in its group (a wrapper's QEMU) goes too.
    void exited.then(() => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // group already empty
      }
      opts.janitor?.remove(pid);
    });
  }
  return {
    child,
    pid,
    exited,
    kill(signal) {
      if (pid < 0) return;
      // The whole group: a wrapper's QEMU may outlive the (already reaped) leader.
      try {
        process.kill(-pid, signal);
      } catch {
        // group already empty
      }
    },
  };
}

/**
 * One per lab: a tiny shell tied to topo by pdeathsig. If topo dies (even by SIGKILL) it kills every recorded
 * process group, so a QEMU behind a wrapper script that did not `exec` (and so has no pdeathsig) dies too.
 */
export class Janitor {
  private readonly proc: ChildProcess;
  private readonly groups = new Set<number>();

  constructor(private readonly file: string) {
    writeFileSync(file, '', { mode: 0o600 });
    const script = 'trap \'while read -r g; do kill -KILL "-$g" 2>/dev/null; done < "$1"; kill $! 2>/dev/null; exit 0\' TERM; while :; do sleep 3600 & wait $!; done';
    this.proc = spawn('setpriv', ['--pdeathsig', 'TERM', '--', 'sh', '-c', script, 'topo-janitor', file], {
      stdio: 'ignore',
      detached: true,
    });
    this.proc.on('error', () => undefined);
    this.proc.unref();
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  add(pgid: number): void {
    this.groups.add(pgid);
    this.persist();
  }

  remove(pgid: number): void {
    if (this.groups.delete(pgid)) this.persist();
  }

  /** topo is stopping normally: nothing left for the janitor to do. */
  dismiss(): void {
    try {
      if (this.proc.pid) process.kill(-this.proc.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  private persist(): void {
    try {
      // Rewritten whole: the list is short and read only when topo has died.
      writeFileSync(this.file, [...this.groups].map((g) => `${g}\n`).join(''), { mode: 0o600 });
    } catch {
      // best effort: pdeathsig still covers QEMUs started without a wrapper
    }
  }
}
