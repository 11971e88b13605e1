// The lab as users start it (CLI, scenarios, library): the runtime's lab with its control socket served.
import type { ResolvedTopology } from '../topology/model.js';
import { startLab, type Lab, type UpOptions as LabOptions } from '../runtime/lab.js';
import { serveLab } from './server.js';

export interface UpOptions extends Omit<LabOptions, 'serve'> {
  /** Serve the control socket (`topo ps`, `exec`, `connect()`); default true. */
  control?: boolean;
}

/** Bring a topology up: resolves once every node is ready; on failure nothing is left behind. */
export function up(topology: ResolvedTopology, opts: UpOptions = {}): Promise<Lab> {
  const { control, ...rest } = opts;
  return startLab(topology, control === false ? rest : { ...rest, serve: (lab) => serveLab(lab) });
}
