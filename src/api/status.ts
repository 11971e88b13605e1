// The serialisable description of a running lab: what `ps` prints, what the control socket serves, what a bundle stores.
import type { Accel, HostForward } from '../qemu/plan.js';
import type { LinkCounters } from './dataplane.js';

/** Node states as `ps` shows them. */
export type PublicNodeState = 'waiting' | 'booting' | 'ready' | 'restarting' | 'failed' | 'stopped' | 'unreachable';

export interface NodeStatus {
  readonly name: string;
  readonly state: PublicNodeState;
  readonly pid?: number;
  readonly restarts: number;
  readonly readyMs?: number;
  readonly ports: readonly { readonly guest: number; readonly host: number; readonly protocol: 'tcp' | 'udp'; readonly bind: string }[];
  readonly channels: readonly string[];
  /** State `unreachable` (a node of a spread lab whose runner did not answer): why, in one line. */
  readonly unreachable?: string;
}

export interface LinkStatus {
  readonly id: string;
  readonly endpoints: readonly string[];
  readonly state: 'up' | 'down';
  readonly kind: 'direct' | 'forwarded';
  /** Forwarded links: per endpoint, frames and bytes it sent (rx: the runner received) and got (tx), drops by cause. */
  readonly counters?: readonly LinkCounters[];
  /** Spread lab (`topo node`): this runner's TCP ends of the link, one per peer in another runner. */
  readonly remote?: readonly RemoteEndInfo[];
}

export interface RemoteEndInfo {
  /** The peer endpoint, NODE:IFACE. */
  readonly peer: string;
  readonly role: 'dial' | 'listen';
  readonly address: string;
  readonly connected: boolean;
  readonly connects: number;
  readonly disconnects: number;
  /** Connections refused (wrong secret, another link or epoch, bad framing). */
  readonly refused: number;
  /** Frames from this side while the peer was away. */
  readonly disconnectedDrops: number;
}

export interface LabStatus {
  readonly lab: string;
  /** The topology file the lab was started from. */
  readonly file: string;
  readonly accel: Accel;
  /** The seed every impairment's random source derives from. */
  readonly seed: number;
  /** The supervisor's pid (the process serving the control socket). */
  readonly pid: number;
  readonly startedAt: string;
  readonly uptimeMs: number;
  readonly state: 'starting' | 'ready' | 'stopping' | 'stale';
  readonly runDir: string;
  readonly captureDir: string;
  readonly nodes: readonly NodeStatus[];
  readonly links: readonly LinkStatus[];
}

export function publicState(state: string): PublicNodeState {
  if (state === 'starting') return 'booting';
  if (state === 'stopping') return 'stopped';
  return state as PublicNodeState;
}

export function portsOf(forwards: readonly HostForward[] | undefined): NodeStatus['ports'] {
  return (forwards ?? []).map((f) => ({ guest: f.guest, host: f.host, protocol: f.protocol, bind: f.bind }));
}
