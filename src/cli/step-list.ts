// `topo test` on a terminal: a task list with the lab's boot and one task per step, driven by the runner's hooks.
import { Listr, type ListrTaskWrapper } from 'listr2';
import type { Scenario, Step } from '../scenario/model.js';
import type { StepResult } from '../scenario/runner.js';
import { seconds } from '../ui/format.js';

type Wrapper = ListrTaskWrapper<unknown, never, never>;

interface Pending {
  wrapper?: Wrapper;
  done?: (err?: Error) => void;
  result?: StepResult | 'booted' | Error;
}

export class StepListReporter {
  private readonly boot: Pending = {};
  private readonly steps: Pending[];
  private readonly run: Promise<unknown>;

  constructor(scenario: Scenario, opts: { renderer?: 'default' | 'simple' } = {}) {
    this.steps = scenario.steps.map(() => ({}));
    const task = (p: Pending) => (_ctx: unknown, wrapper: unknown) =>
      new Promise<void>((resolve, reject) => {
        p.wrapper = wrapper as Wrapper;
        p.done = (err) => (err ? reject(err) : resolve());
        if (p.result) this.settle(p);
      });
    const list = new Listr(
      [
        { title: `boot lab ${scenario.topology.name}`, task: task(this.boot) },
        ...scenario.steps.map((s: Step, i) => ({ title: `${i + 1}. ${s.name}`, task: task(this.steps[i] as Pending) })),
      ],
      // Signals belong to host/signals.ts alone; failures are printed in full after the list.
      { concurrent: false, exitOnError: false, registerSignalListeners: false, renderer: opts.renderer ?? 'default', rendererOptions: { collapseErrors: false } },
    );
    this.run = list.run().catch(() => undefined);
  }

  private settle(p: Pending): void {
    const r = p.result;
    if (!p.wrapper || !p.done || r === undefined) return;
    if (r === 'booted') return p.done();
    if (r instanceof Error) return p.done(r);
    const title = `${r.index + 1}. ${r.name}`;
    if (r.status === 'skipped') {
      p.wrapper.skip(title);
      return p.done();
    }
    p.wrapper.title = `${title} (${seconds(r.durationMs)})`;
    p.done(r.status === 'failed' ? new Error(r.failure?.message ?? 'failed') : undefined);
  }

  stepStart(): void {
    if (this.boot.result) return;
    this.boot.result = 'booted';
    this.settle(this.boot);
  }

  stepEnd(r: StepResult): void {
    // A lab that never came up: its boot task fails, with the runner's reason.
    if (!this.boot.result) {
      const message = r.failure?.message ?? '';
      this.boot.result = r.index === 0 && r.durationMs === 0 && message.startsWith('the lab did not start') ? new Error(message) : 'booted';
      this.settle(this.boot);
    }
    const p = this.steps[r.index];
    if (!p) return;
    p.result = r;
    this.settle(p);
  }

  /** Resolves once the list has finished drawing. */
  close(): Promise<unknown> {
    return this.run;
  }
}
