// How a QEMU launch ended and why topo stopped it, if it did: the NodeProcess's states and stop reasons.
import { constants } from 'node:os';
import { TopoError } from '../errors.js';

export interface ExitInfo {
  code?: number;
  signal?: string;
  stderrTail: string;
  consoleTail: string;
  /** Why topo ended it, when it did so because something else failed (swtpm died, the log could not be written). */
  reason?: string;
  /** Why topo stopped it, if it did: 'failure' is reported as a failure, the others as a stop. */
  stopReason?: StopReason;
}

/** 'starting': swtpm/virtiofsd/QEMU launching, not ready yet; 'running': ready; 'stopping': a stop is under way; 'exited': reaped. */
export type NodeProcessState = 'idle' | 'starting' | 'running' | 'stopping' | 'exited';

/**
 * Why topo stops a launch. 'requested' (down, Ctrl-C, `topo stop`), 'restart' (`topo restart`) and 'teardown' (the lab
 * goes) are stops; 'failure' (something the node needs failed, or a crash is injected) is reported as the node failing.
 */
export type StopReason = 'requested' | 'restart' | 'failure' | 'teardown';

/** A stop that is not a failure. */
export function isRequestedStop(reason: StopReason | undefined): boolean {
  return reason !== undefined && reason !== 'failure';
}

export function exitError(node: string, info: ExitInfo, when: string): TopoError {
  if (info.reason) {
    return new TopoError(info.reason, { code: 'E_NODE_FAULT', node, stderrTail: info.stderrTail, consoleTail: info.consoleTail });
  }
  const how = info.signal ? `was killed by ${info.signal}` : `exited with code ${info.code}`;
  const firstStderr = info.stderrTail.split('\n').filter(Boolean).at(-1);
  return new TopoError(`QEMU ${how} ${when}${firstStderr ? `: ${firstStderr}` : ''}`, {
    code: 'E_QEMU_EXIT',
    node,
    stderrTail: info.stderrTail,
    consoleTail: info.consoleTail,
  });
}

export function signalName(n: number): string | undefined {
  return Object.entries(constants.signals).find(([, v]) => v === n)?.[0];
}
