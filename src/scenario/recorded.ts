// Hand work as a scenario: the control operations a lab journaled (src/control/record.ts) become the steps of the
// scenario `topo bundle` writes, so "I broke it by hand" replays with `topo test BUNDLE`.
import path from 'node:path';
import { stringify } from 'yaml';
import type { OpEvent } from '../api/events.js';
import { oneLine } from '../topology/diagnostics.js';

export interface HandScenario {
  /** scenario.yaml: a first step that the lab answers, then one step per replayable operation. */
  text: string;
  /** Files uploaded by `topo cp`, as kept in the run directory: the bundle holds them at the same relative path. */
  files: string[];
  /** Operations journaled but not replayed, with why (they are comments at the top of the scenario too). */
  notReplayed: string[];
}

type Step = Record<string, unknown>;

const isOp = (e: unknown): e is OpEvent => typeof e === 'object' && e !== null && (e as { type?: unknown }).type === 'op';

function describe(op: OpEvent): string {
  if (op.op === 'exec') return `exec ${op.node}: ${typeof op.cmd === 'string' ? op.cmd : (op.cmd ?? []).join(' ')}`;
  if (op.op === 'cp') return `cp ${op.from ?? ''}${op.to ? `-> ${op.to}` : ''}`.trim();
  if (op.op === 'link') return `link ${op.endpoint} ${op.state}`;
  if (op.op === 'impair') return `impair ${op.endpoint}`;
  return `${op.op} ${op.node ?? ''}`.trim();
}

/** One journaled operation as a scenario step, or why it has none. */
export function stepOf(op: OpEvent, n: number): Step | string {
  if (op.op === 'console') return `console session on ${op.node}: what was typed there is not recorded (console keystrokes are not steps)`;
  // An exec that ran has a result to expect again, whatever its exit code; any other failed operation changed nothing.
  if (op.error && !(op.op === 'exec' && op.exit !== undefined)) return `${describe(op)} failed (${op.error.code}: ${op.error.message})`;
  switch (op.op) {
    case 'exec': {
      if (op.stdinBytes !== undefined) return `${describe(op)}: its stdin (${op.stdinBytes} bytes, not text) is not recorded`;
      const exec: Step = { node: op.node, cmd: op.cmd };
      if (op.stdin !== undefined) exec.stdin = op.stdin;
      if (op.timeoutMs) exec.timeout = `${op.timeoutMs}ms`;
      // The result seen by hand is the expectation: a replay passes when the same thing happens again.
      exec.expect = { exit: op.timedOut ? 0 : (op.exit ?? 0) };
      return op.timedOut ? { name: `${describe(op)} (timed out when run by hand)`, exec } : { exec };
    }
    case 'link':
      return { link: { endpoints: [op.endpoint], state: op.state } };
    case 'impair':
      return { impair: { endpoints: [op.endpoint], ...(op.clear ? { clear: true } : op.spec), ...(op.direction ? { direction: op.direction } : {}) } };
    case 'node':
      return { node: { name: op.node, action: op.action === 'kill' ? 'crash' : op.action } };
    case 'cp':
      // Only a file the recorder kept (recorded/NAME) is taken from the run directory.
      if (op.to) return op.file && /^recorded\/[^/]+$/.test(op.file) ? { copy: { from: op.file, to: op.to } } : `${describe(op)}: the uploaded file was not kept`;
      return { copy: { from: op.from, to: `copied/${n}-${path.posix.basename(op.from?.split(':')[1] ?? 'file') || 'file'}` } };
  }
}

/** The scenario of a lab's hand work, from its journal entries (other entries are ignored). */
export function handScenario(journal: readonly unknown[], lab: { name: string; seed: number; firstNode: string }): HandScenario {
  const steps: Step[] = [{ name: `the lab boots and ${lab.firstNode} answers`, exec: { node: lab.firstNode, cmd: 'true' } }];
  const files: string[] = [];
  const notReplayed: string[] = [];
  for (const op of journal.filter(isOp)) {
    const s = stepOf(op, steps.length + 1);
    if (typeof s === 'string') {
      notReplayed.push(s);
      continue;
    }
    steps.push(s);
    if (op.op === 'cp' && op.to && op.file) files.push(op.file);
  }
  const head = [
    `# Recorded from lab ${oneLine(lab.name)}: each control operation it received (exec, link, impair, node actions, cp), in order.`,
    '# Each exec expects the exit code it had by hand. Console keystrokes and time between operations are not recorded.',
    ...notReplayed.map((w) => `# not replayed: ${oneLine(w)}`),
  ];
  const doc = { name: `${lab.name} (bundled by hand)`, topology: 'topology.yaml', seed: lab.seed, steps };
  return { text: `${head.join('\n')}\n${stringify(doc, { lineWidth: 0 })}`, files, notReplayed };
}
