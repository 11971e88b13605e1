// The public shape of a forwarded link: its options, its API and its JSON-friendly statistics.

import type { TopoError } from '../errors.js';
import type { Impairment, ResolvedLink } from '../topology/model.js';
import type { CaptureOptions, CaptureStats, CaptureStream } from './capture.js';
import type { Clock } from './clock.js';
import type { ImpairStats } from './impair.js';
import type { PcapStats } from './pcap.js';
import type { SwitchCounters } from './switch.js';

export interface ForwardedLinkOptions {
  link: ResolvedLink;
  lab: string;
  /**
   * Lab-level seed (an integer) of every impairment's random decisions, combined with the link and the direction.
   * Default: derived from the lab's name, as before.
   */
  seed?: number;
  /** When set, every frame entering the link is written here once (classic pcap). */
  captureFile?: string;
  clock?: Clock;
  /** Per-endpoint egress queue bound in bytes (see FramePort). */
  maxQueueBytes?: number;
  macAgingMs?: number;
  /** Count frames and bytes (default true); false only to measure what counting costs. */
  counters?: boolean;
  /** Asynchronous trouble: a guest broke the framing, or the capture file failed. Never fatal. */
  onError?: (err: TopoError) => void;
}

export interface TrafficCounters {
  frames: number;
  bytes: number;
}

/** Frames lost on the way, by cause. Each frame is counted once, at the endpoint named below. */
export interface DropCounters {
  /** Towards this endpoint: lost by its impairment (loss %). */
  loss: number;
  /** Towards this endpoint: its egress queue was full, or its impairment's rate backlog or delay line. */
  queue: number;
  /** From this endpoint: shorter than an Ethernet header (length 0 too), a bad length, or cut off by EOF. */
  malformed: number;
  /** From this endpoint: longer than the link's MTU + 14 (+ 4 per VLAN tag); never captured nor forwarded. */
  oversize: number;
  /** From or towards this endpoint while it was administratively down (setEndpointUp(i, false)). */
  down: number;
  /** Towards this endpoint while no VM was connected to it (restarting, or gone). */
  disconnected: number;
}

export interface EndpointStats {
  index: number;
  node: string;
  iface: string;
  up: boolean;
  /** The runner-side socket is open (false once the peer closed or broke the framing). */
  connected: boolean;
  /** Wire mode: reading from this endpoint is paused until the other side drains. */
  ingressPaused: boolean;
  /** Well-formed frames received from this endpoint's VM. */
  rx: TrafficCounters;
  /** Frames handed to this endpoint's VM. */
  tx: TrafficCounters;
  drops: DropCounters;
  /** Current impairment of frames travelling towards this endpoint; absent when none. */
  impairment?: Impairment;
  /** Details of that impairment's work (present once one was ever set). */
  impair?: ImpairStats;
  /** @deprecated use rx.frames */
  rxFrames: number;
  /** @deprecated use rx.bytes */
  rxBytes: number;
  /** @deprecated use tx.frames */
  txFrames: number;
  /** @deprecated use tx.bytes */
  txBytes: number;
  /** @deprecated use drops.queue and drops.disconnected (this counts only the socket queue's share) */
  txDrops: number;
  /** @deprecated bad lengths only; use drops.malformed */
  protocolErrors: number;
  /** @deprecated use drops.down */
  downDrops: number;
}

export interface LinkStats {
  id: string;
  mode: 'wire' | 'switch';
  endpoints: EndpointStats[];
  switch?: SwitchCounters & { macs: number };
  /** The capture file (captureFile), when there is one. */
  capture?: PcapStats;
  /** Live captures attached now (capture()). */
  captures: CaptureStats[];
}

export interface ForwardedLink {
  readonly id: string;
  /** Endpoint index -> fd for QEMU's `-netdev socket,fd=N`. Entries vanish once closed. */
  readonly guestFds: ReadonlyMap<number, number>;
  /** Close our copy of a guest fd after QEMU inherited it. Idempotent; use it rather than fs.close. */
  closeGuestFd(i: number): void;
  /** Hand ownership of a guest fd to the caller (who must close it); the link forgets it. */
  takeGuestFd(i: number): number;
  start(): void;
  stats(): LinkStats;
  setEndpointUp(i: number, up: boolean): void;
  /**
   * Impairment of frames travelling towards endpoint i from now on; undefined (or all zeros) clears it.
   * Frames already delayed or queued keep their delivery times and are never overtaken by newer ones.
   * Throws a TopoError (code NET_IMPAIR) for a value out of range, NET_LINK for an unknown endpoint.
   */
  setImpairment(i: number, imp: Impairment | undefined): void;
  getImpairment(i: number): Impairment | undefined;
  /** A live capture of every frame entering the link from now on, until close() or destroy(). */
  capture(opts?: CaptureOptions): CaptureStream;
  /** Fresh socketpair for endpoint i (node restart); MAC table and impairment state are kept. */
  replaceEndpoint(i: number): number;
  close(): Promise<void>;
}
