// The lab as users start it (CLI, scenarios, library): the runtime's lab with its control socket served.
import { readFileSync } from 'node:fs';
import type { ResolvedTopology } from '../topology/model.js';
import type { ServedLab } from '../api/served.js';
import { startLab, type Lab, type UpOptions as LabOptions } from '../runtime/lab.js';
import { serveLab } from './server.js';
import { serveLabTcp } from './server-tcp.js';

export interface UpOptions extends Omit<LabOptions, 'serve'> {
  /** Serve the control socket (`topo ps`, `exec`, `connect()`); default true. */
  control?: boolean;
  /** Also serve the control protocol over TCP, authenticated with the lab secret (`topo node --control-port`). */
  tcpControl?: { host: string; port: number; secret: Buffer };
}

/** Bring a topology up: resolves once every node is ready; on failure nothing is left behind. */
export function up(topology: ResolvedTopology, opts: UpOptions = {}): Promise<Lab> {
  const { control, tcpControl, ...rest } = opts;
  return startLab(topology, control === false ? rest : { ...rest, serve: (lab) => serveBoth(lab, tcpControl) });
}

async function serveBoth(lab: Lab, tcp: UpOptions['tcpControl']): Promise<{ close(): Promise<void> }> {
  const unix = await serveLab(lab, servedLab(lab));
  try {
    const remote = tcp ? await serveLabTcp(lab, servedLab(lab), tcp) : undefined;
    return { close: async () => void (await Promise.all([unix.close(), remote?.close()])) };
  } catch (err) {
    await unix.close();
    throw err;
  }
}

/** What the control server needs of a lab of this process besides its interface: run directory, logs, journal. */
export function servedLab(lab: Lab): ServedLab {
  return {
    file: (name) => lab.runDir.file(name),
    createDir: (name) => lab.runDir.createDir(name),
    createFile: (name, data) => lab.runDir.createFile(name, data),
    consoleLog: (node) => {
      try {
        return readFileSync(lab.runDir.file(`${node}.log`));
      } catch {
        // No log file (console not logged): what the console keeps in memory.
        return lab.supervisor.console(node).recent();
      }
    },
    journal: (event) => void lab.emit('event', event),
  };
}
