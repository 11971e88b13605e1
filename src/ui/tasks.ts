// Interactive task list (listr2): one task per node, driven only by supervisor events.
import { Listr, type ListrTaskWrapper } from 'listr2';
import type { NodeEvent, SupervisorEvent } from '../api/events.js';
import { describeNode } from './format.js';
import type { Reporter } from './plain.js';

type Wrapper = ListrTaskWrapper<unknown, never, never>;

interface NodeTask {
  wrapper?: Wrapper;
  last?: NodeEvent;
  settle?: (err?: Error) => void;
  settled: boolean;
}

export class TaskListReporter implements Reporter {
  private readonly tasks = new Map<string, NodeTask>();
  private prepare?: { wrapper?: Wrapper; done?: () => void; closed: boolean; notices: string[] };
  private run?: Promise<unknown>;
  private finished = false;
  private closing = false;
  private readonly deferred: string[] = [];

  constructor(nodes: readonly string[]) {
    this.prepare = { closed: false, notices: [] };
    const prepare = this.prepare;
    for (const n of nodes) this.tasks.set(n, { settled: false });
    const list = new Listr(
      [
        {
          title: 'prepare',
          rendererOptions: { persistentOutput: true },
          task: (_ctx, wrapper) =>
            new Promise<void>((resolve) => {
              prepare.wrapper = wrapper as unknown as Wrapper;
              prepare.done = resolve;
              if (prepare.notices.length) prepare.wrapper.output = prepare.notices.join('\n');
              if (prepare.closed) resolve();
            }),
        },
        {
          title: 'nodes',
          task: (_ctx, parent) =>
            parent.newListr(
              nodes.map((name) => ({
                title: `${name}: waiting`,
                task: (_c: unknown, wrapper: unknown) => this.nodeTask(name, wrapper as Wrapper),
              })),
              { concurrent: true, exitOnError: false },
            ),
        },
      ],
      {
        concurrent: false,
        exitOnError: false,
        // Signals belong to host/signals.ts alone.
        registerSignalListeners: false,
        rendererOptions: { collapseErrors: false, collapseSubtasks: false },
      },
    );
    this.run = list.run().catch(() => undefined);
  }

  handle(e: SupervisorEvent): void {
    if (e.type === 'notice') {
      if (this.prepare && !this.prepare.closed) {
        // Notices arriving before listr started the task are kept and shown when it does.
        this.prepare.notices.push(e.message);
        if (this.prepare.wrapper) this.prepare.wrapper.output = this.prepare.notices.join('\n');
      } else if (this.finished) process.stdout.write(`topo: ${e.message}\n`);
      // While node tasks render, a stray line would tear the display: print these once the list ends.
      else this.deferred.push(`topo: ${e.message}`);
      return;
    }
    if (e.type === 'lab' && e.state === 'starting') return this.closePrepare();
    if (e.type === 'lab' && (e.state === 'stopping' || e.state === 'stopped')) {
      if (this.finished) process.stdout.write(e.state === 'stopping' ? 'stopping lab\n' : `lab stopped${e.detail ? ` (${e.detail})` : ''}\n`);
      return;
    }
    if (e.type !== 'node') return;
    const t = this.tasks.get(e.node);
    if (!t) return;
    t.last = e;
    if (t.settled) {
      // After the task list ended, state changes (exits, restarts) are plain lines.
      if (this.finished) process.stdout.write(`${e.node}: ${describeNode(e)}\n`);
      return;
    }
    if (t.wrapper) t.wrapper.title = `${e.node}: ${describeNode(e)}`;
    if (e.state === 'ready') t.settle?.();
    else if (e.state === 'failed' || e.state === 'stopped') t.settle?.(new Error(`${e.node}: ${describeNode(e)}`));
  }

  print(lines: string[], stream: 'stdout' | 'stderr' = 'stdout'): void {
    for (const l of lines) (stream === 'stdout' ? process.stdout : process.stderr).write(`${l}\n`);
  }

  /** Ends the task list (every unfinished node task is settled) so later output is plain. */
  async close(): Promise<void> {
    this.closing = true;
    this.closePrepare();
    for (const [name, t] of this.tasks) if (!t.settled) t.settle?.(new Error(`${name}: ${t.last ? describeNode(t.last) : 'not started'}`));
    await this.run;
    this.finished = true;
    for (const line of this.deferred.splice(0)) process.stdout.write(`${line}\n`);
  }

  private closePrepare(): void {
    if (!this.prepare || this.prepare.closed) return;
    this.prepare.closed = true;
    this.prepare.done?.();
  }

  private nodeTask(name: string, wrapper: Wrapper): Promise<void> {
    const t = this.tasks.get(name)!;
    t.wrapper = wrapper;
    if (t.last) wrapper.title = `${name}: ${describeNode(t.last)}`;
    return new Promise<void>((resolve, reject) => {
      t.settle = (err) => {
        if (t.settled) return;
        t.settled = true;
        if (err) reject(err);
        else resolve();
      };
      if (t.last?.state === 'ready') t.settle();
      else if (t.last?.state === 'failed' || t.last?.state === 'stopped' || this.closing) {
        t.settle(new Error(`${name}: ${t.last ? describeNode(t.last) : 'not started'}`));
      }
    });
  }
}
