// Run the real CLI as a child process (through tsx, so tests need no build), reading its output as it comes.
import { execa, type ResultPromise } from 'execa';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('./topo-entry.ts', import.meta.url));
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export type TopoChild = ResultPromise<{ reject: false; all: true; buffer: true }>;

/**
 * `group: true` starts topo as the leader of its own process group, like a shell's foreground job, so a test can
 * signal the whole group as a terminal's Ctrl-C does (`process.kill(-child.pid, 'SIGINT')`).
 * Unhandled rejections are fatal in every topo the tests start.
 */
export function topo(args: string[], env: Record<string, string> = {}, opts: { group?: boolean; input?: string | Buffer } = {}): TopoChild {
  return execa(process.execPath, ['--unhandled-rejections=strict', '--import', 'tsx', entry, ...args], {
    cwd: repoRoot,
    reject: false,
    all: true,
    buffer: true,
    detached: opts.group ?? false,
    ...(opts.input === undefined ? { stdin: 'ignore' as const } : { input: opts.input }),
    env: { ...env, CI: '1', NO_COLOR: '1' },
  }) as TopoChild;
}

/** The argv that runs topo as `topo()` does, for shell pipelines (`topo up FILE | tee log`); run it from repoRoot. */
export function topoArgv(args: string[]): string[] {
  return [process.execPath, '--unhandled-rejections=strict', '--import', 'tsx', entry, ...args];
}

/** Ctrl-C as a terminal sends it: to every process in the foreground group. */
export function ctrlC(child: TopoChild, signal: NodeJS.Signals = 'SIGINT'): void {
  process.kill(-child.pid!, signal);
}

/** Resolve with the output so far once a line matching `pattern` appeared; reject if the process exits first. */
export function waitForOutput(child: TopoChild, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        child.all?.off('data', onData);
        resolve(seen);
      }
    };
    child.all?.on('data', onData);
    void child.then((r) => reject(new Error(`topo exited (${r.exitCode}) before ${pattern}:\n${seen}`)));
  });
}
