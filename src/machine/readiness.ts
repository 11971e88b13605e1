// When a launch counts as ready: every pattern seen on the console (or the QMP greeting), before a timeout or an exit.
import { TopoError } from '../errors.js';
import type { ConsoleHub } from './console.js';

/** A line matcher: the guest's exact ready line, or a user's pattern compiled by a linear-time engine. */
export interface LinePattern {
  readonly source: string;
  test(line: string): boolean;
}

/** The whole line, nothing else: output of a `run:` command that merely contains it never counts. */
export function exactLine(line: string): LinePattern {
  return { source: line, test: (l) => l === line };
}

export interface ReadinessWatch {
  node: string;
  console: ConsoleHub;
  patterns: readonly LinePattern[];
  timeoutMs: number;
  onQmp?: Promise<void>;
  hasConsole: boolean;
  /** Rejects the wait with this error when the launch ends first. */
  exited: Promise<TopoError>;
  timeoutHint: string;
  tails: () => { stderrTail: string; consoleTail: string };
}

export function watchReadiness(w: ReadinessWatch): Promise<void> {
  const pending = [...w.patterns];
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      w.console.off('line', onLine);
      if (err) reject(err);
      else resolve();
    };
    const onLine = (line: string) => {
      for (let i = pending.length - 1; i >= 0; i--) if (pending[i]!.test(line)) pending.splice(i, 1);
      if (pending.length === 0) finish();
    };
    const timer = setTimeout(() => {
      const what = w.onQmp ? 'the QMP greeting' : `${pending.map((p) => `/${p.source}/`).join(', ')} on the console`;
      finish(new TopoError(`not ready after ${Math.round(w.timeoutMs / 1000)} s (waiting for ${what})`, { code: 'E_READY_TIMEOUT', node: w.node, hint: w.timeoutHint, ...w.tails() }));
    }, w.timeoutMs);
    void w.exited.then((err) => finish(err));
    if (w.onQmp) void w.onQmp.then(() => finish(), () => undefined);
    else if (pending.length === 0 || !w.hasConsole) finish();
    else w.console.on('line', onLine);
  });
}
