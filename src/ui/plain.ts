// Non-interactive output: one plain line per state change (CI logs, pipes, --no-ui), or JSON lines with --json.
import type { SupervisorEvent } from '../api/events.js';
import { describeNode } from './format.js';
import { printable } from '../host/printable.js';

export interface Reporter {
  handle(event: SupervisorEvent): void;
  /** Free-form lines (summary, errors) on the right stream. */
  print(lines: string[], stream?: 'stdout' | 'stderr'): void;
  close(): Promise<void>;
}

export class PlainReporter implements Reporter {
  constructor(private readonly opts: { follow?: boolean } = {}) {}

  handle(e: SupervisorEvent): void {
    if (e.type === 'node') this.out(`${e.node}: ${describeNode(e)}`);
    else if (e.type === 'notice') this.out(`topo: ${e.message}`);
    else if (e.type === 'console') {
      if (this.opts.follow) this.out(`${e.node} | ${printable(e.line)}`);
    } else if (e.type === 'lab') {
      if (e.state === 'ready') this.out(e.detail ?? 'all nodes ready');
      else if (e.state === 'stopping') this.out('stopping lab');
      else if (e.state === 'stopped') this.out(`lab stopped${e.detail ? ` (${e.detail})` : ''}`);
    }
  }

  print(lines: string[], stream: 'stdout' | 'stderr' = 'stdout'): void {
    for (const l of lines) (stream === 'stdout' ? process.stdout : process.stderr).write(`${l}\n`);
  }

  async close(): Promise<void> {}

  private out(line: string): void {
    process.stdout.write(`${line}\n`);
  }
}

export class JsonReporter implements Reporter {
  constructor(private readonly opts: { follow?: boolean } = {}) {}

  handle(e: SupervisorEvent): void {
    if (e.type === 'console' && !this.opts.follow) return;
    const { error, ...rest } = e as SupervisorEvent & { error?: { code: string; message: string; stderrTail?: string } };
    const out = error ? { ...rest, error: { code: error.code, message: error.message, stderrTail: error.stderrTail } } : rest;
    process.stdout.write(`${JSON.stringify(out)}\n`);
  }

  // JSON mode keeps stdout machine-readable: free-form text always goes to stderr.
  print(lines: string[]): void {
    for (const l of lines) process.stderr.write(`${l}\n`);
  }

  async close(): Promise<void> {}
}
