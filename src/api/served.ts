// What the control server needs of a lab besides its LabHandle: its run directory, its console logs and its journal.
// src/control/up.ts gives it for a lab of this process; the server knows nothing else of the runtime.
import type { SupervisorEvent } from './events.js';
import type { LabHandle } from './handles.js';

export interface ServedLab {
  /** A path in the lab's run directory (the control socket lives there). */
  file(name: string): string;
  /** A new directory / a new file in the run directory (uploads recorded for a bundle). */
  createDir(name: string): Promise<unknown>;
  createFile(name: string, data: Buffer): Promise<unknown>;
  /**
   * What the node's console printed so far. Read in the same tick as its `console()` stream is opened, so that a
   * follower misses and doubles nothing.
   */
  consoleLog(node: string): Buffer;
  /** Add an event to the lab's journal (events.jsonl). */
  journal(event: SupervisorEvent): void;
}

/** A lab as the control server holds it: its interface and its run directory. */
export interface Served {
  readonly lab: LabHandle;
  readonly host: ServedLab;
}
