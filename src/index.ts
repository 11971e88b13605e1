// Library entry: the public API and nothing else (each export is described in the README's Library section).
// `await using lab = await up('lab.yaml')` tears down on scope exit; `connect()` reaches a lab another process runs.
import { TopoError } from './errors.js';
import type { Lab } from './runtime/lab.js';
import { up as upTopology, type UpOptions } from './control/up.js';
import { formatDiagnostic, loadTopology } from './topology/index.js';
import type { ResolvedTopology } from './topology/model.js';

// Errors.
export { TopoError, isTopoError } from './errors.js';

// Topology files.
export { loadTopology, validateText, formatDiagnostic, type LoadResult, type ValidateOptions, type Diagnostic } from './topology/index.js';
export type { ResolvedTopology } from './topology/model.js';

// Labs: one interface, two implementations.
export type { Lab, ExecResult } from './runtime/lab.js';
export type { UpOptions } from './control/up.js';
export { connect, type RemoteLab, type ConnectOptions } from './control/remote-lab.js';
export type { DownOptions, LabHandle, LinkHandle, NodeHandle } from './api/handles.js';
export type { ExecOptions } from './api/exec-options.js';
export type { ImpairSpec } from './topology/impairment.js';
export type { Direction, ImpairOptions, ImpairmentStatus, LinkCounters } from './api/dataplane.js';
export type { LabStatus, NodeStatus, LinkStatus, PublicNodeState } from './api/status.js';
export type * from './api/events.js';

// The default guest.
export { ensureGuest, type GuestHandle, type EnsureGuestOptions } from './guest/index.js';

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
export { loadScenario, type ScenarioResult, type ScenarioOptions } from './scenario/load.js';
export type { Scenario, Step } from './scenario/model.js';
export { runScenario, type ScenarioRun, type StepResult, type RunScenarioOptions } from './scenario/runner.js';
export { upload, download } from './scenario/copy.js';
export { junitXml } from './scenario/junit.js';
export { writeBundle, openBundle, type BundleManifest, type OpenedBundle } from './scenario/bundle.js';
