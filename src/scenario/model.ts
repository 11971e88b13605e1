// A validated scenario: the topology it runs against and its steps, with durations in ms and names filled in.
import type { ResolvedTopology } from '../topology/model.js';

export type ImpairField = 'delay' | 'jitter' | 'loss' | 'rate' | 'duplicate' | 'reorder' | 'corrupt';
export const IMPAIR_FIELDS: readonly ImpairField[] = ['delay', 'jitter', 'loss', 'rate', 'duplicate', 'reorder', 'corrupt'];

/** A file on the host (absolute) or in a guest. */
export type Location = { node: string; path: string } | { local: string };

interface StepBase {
  /** 0-based position in `steps`. */
  index: number;
  name: string;
  /** Where the step is written, for messages. */
  line: number;
}

export type Step = StepBase &
  (
    | { kind: 'exec'; node: string; cmd: string | readonly string[]; stdin?: string; timeoutMs: number; expect: { exit: number; stdout?: string; stderr?: string }; retry?: { timeoutMs: number; intervalMs: number } }
    | { kind: 'link'; endpoints: readonly string[]; link: string; state: 'up' | 'down' }
    | { kind: 'impair'; endpoints: readonly string[]; link: string; spec: Partial<Record<ImpairField, string | number>>; clear: boolean; direction: 'both' | 'out' | 'in' }
    | { kind: 'wait'; node: string; console?: string; port?: number; udp: boolean; timeoutMs: number }
    | { kind: 'node'; node: string; action: 'crash' | 'restart' | 'stop' | 'start' }
    | { kind: 'copy'; from: Location; to: Location }
    | { kind: 'sleep'; ms: number }
  );

/** The node a step is about (a link's or a copy's first), for hints; undefined for a sleep. */
export function stepNode(step: Step): string | undefined {
  if ('node' in step) return step.node;
  if (step.kind === 'copy') return 'node' in step.from ? step.from.node : 'node' in step.to ? step.to.node : undefined;
  if (step.kind === 'link' || step.kind === 'impair') return step.endpoints[0]?.split(':')[0];
  return undefined;
}

export interface Scenario {
  name: string;
  /** Absolute path of the scenario file. */
  file: string;
  /** How messages name the file when `file` is not it: a replayed bundle's member, BUNDLE.tar.gz:scenario.yaml. */
  shownFile?: string;
  /** The scenario text as written (goes into bundles). */
  text: string;
  topology: ResolvedTopology;
  /** Topology file (absolute) when the scenario names one; undefined for an inline topology. */
  topologyFile?: string;
  timeoutMs: number;
  seed: number;
  steps: readonly Step[];
  collect: readonly { node: string; path: string }[];
  /** Links a step impairs: they must be forwarded through the runner for this run. */
  forwardLinks: readonly string[];
}

export const DEFAULT_SCENARIO_TIMEOUT_MS = 600_000;
export const DEFAULT_STEP_TIMEOUT_MS = 60_000;
