// Library entry: the same engine as the CLI. `await using lab = await up('lab.yaml')` tears down on scope exit.
import { TopoError } from './errors.js';
import { type Lab } from './runtime/lab.js';
import { up as upTopology, type UpOptions } from './control/up.js';
import { formatDiagnostic, loadTopology } from './topology/index.js';
import type { ResolvedTopology } from './topology/model.js';

export { TopoError, isTopoError } from './errors.js';
export * from './topology/index.js';
export type * from './topology/model.js';
export { Lab, type ExecResult } from './runtime/lab.js';
export type { UpOptions } from './control/up.js';
export { connect, RemoteLab, type ConnectOptions } from './control/remote-lab.js';
export type { ExecOptions, LabHandle, LinkHandle, NodeHandle } from './api/handles.js';
export type { LabStatus, NodeStatus, LinkStatus, PublicNodeState } from './api/status.js';
export type * from './api/events.js';
export { planNode, type NodePlan, type NodeLaunchInputs } from './qemu/plan.js';
export { ensureGuest, guestInfo, READY_LINE, type GuestHandle, type EnsureGuestOptions } from './guest/index.js';
export { buildEsp, type EspResult } from './guest/esp.js';

/** Boot a topology (a file path or a resolved model); resolves once every node is ready. */
export async function up(topology: string | ResolvedTopology, opts?: UpOptions): Promise<Lab> {
  if (typeof topology !== 'string') return upTopology(topology, opts);
  const loaded = await loadTopology(topology);
  if (!loaded.ok) {
    const first = loaded.diagnostics[0]!;
    throw new TopoError(`invalid topology:\n${loaded.diagnostics.map(formatDiagnostic).join('\n')}`, {
      code: 'E_INVALID',
      file: first.file,
      line: first.line,
      column: first.column,
    });
  }
  return upTopology(loaded.topology, opts);
}

// Scenarios: the same steps as `topo test`, from TypeScript.
export { loadScenario, validateScenario, type ScenarioResult, type ScenarioOptions } from './scenario/load.js';
export type { Scenario, Step, Location } from './scenario/model.js';
export { runScenario, runSteps, type ScenarioRun, type StepResult, type RunScenarioOptions, type RunStepsOptions } from './scenario/runner.js';
export { runStep, StepFailure, type StepLab } from './scenario/steps.js';
export { upload, download } from './scenario/copy.js';
export { junitXml } from './scenario/junit.js';
export { writeBundle, openBundle, type BundleManifest } from './scenario/bundle.js';
