// One endpoint of a forwarded link as the link keeps it, and how its counters become EndpointStats.

import type { Impairment } from '../topology/model.js';
import type { Impairer } from './impair.js';
import type { EndpointStats } from './link-types.js';
import { addCounters, type FramePort, type PortCounters } from './port.js';

export interface Endpoint {
  readonly index: number;
  readonly node: string;
  readonly iface: string;
  hostFd: number | null;
  guestFd: number | null;
  port: FramePort | null;
  up: boolean;
  downDrops: number;
  /** Frames from this endpoint longer than the link's MTU allows (see exceedsMtu). */
  oversizeDrops: number;
  /** Frames towards this endpoint while it had no port at all (between a close and a replaceEndpoint). */
  disconnectedDrops: number;
  /** Created by the first impairment ever set on this direction, then kept so its random streams continue. */
  impairer: Impairer | null;
  /** Wire mode only: reading stopped because the other side's queue is congested. */
  ingressPaused: boolean;
  /** Counters of ports retired by replaceEndpoint, so stats survive restarts. */
  retired: PortCounters;
}

export function endpointStats(ep: Endpoint, impairment: Impairment | undefined): EndpointStats {
  const c = ep.port === null ? ep.retired : addCounters(ep.retired, ep.port.counters);
  const im = ep.impairer?.stats();
  return {
    index: ep.index, node: ep.node, iface: ep.iface, up: ep.up,
    connected: ep.port !== null && !ep.port.closed,
    ingressPaused: ep.ingressPaused,
    rx: { frames: c.rxFrames, bytes: c.rxBytes },
    tx: { frames: c.txFrames, bytes: c.txBytes },
    drops: {
      loss: im?.lost ?? 0,
      queue: c.queueDrops + (im?.queueDrops ?? 0),
      malformed: c.malformed,
      down: ep.downDrops,
      oversize: ep.oversizeDrops,
      disconnected: c.closedDrops + ep.disconnectedDrops,
    },
    ...(impairment === undefined ? {} : { impairment }),
    ...(im === undefined ? {} : { impair: im }),
    rxFrames: c.rxFrames, rxBytes: c.rxBytes, txFrames: c.txFrames, txBytes: c.txBytes, txDrops: c.txDrops,
    protocolErrors: c.protocolErrors, downDrops: ep.downDrops,
  };
}
