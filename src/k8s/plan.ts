// Who dials whom, on which port: every link end that crosses runners becomes one TCP connection.
// A point-to-point link: the lower-sorted node dials the other. A segment lives in its lowest-sorted
// member's runner; every other member dials it. Ports are numbered in link order from LINK_PORT_BASE.

import { sortedEnds } from '../runtime/node-view.js';
import type { LinkEndpoint, ResolvedTopology } from '../topology/model.js';

export const LINK_PORT_BASE = 17000;
export const CONTROL_PORT_BASE = 16000;
export const HEALTH_PORT_BASE = 16500;

export interface TcpConnection {
  link: string;
  /** The member that dials (segments: each non-hosting member, its own connection). */
  dialer: { node: string; iface: string };
  listener: { node: string; iface: string };
  port: number;
}

export function tcpConnections(t: ResolvedTopology): TcpConnection[] {
  const out: TcpConnection[] = [];
  let port = LINK_PORT_BASE;
  for (const l of t.links) {
    const [host, ...others] = sortedEnds(l.endpoints) as [LinkEndpoint, ...LinkEndpoint[]];
    const first = out.length;
    for (const e of others) {
      // Both ends in one runner (a node cabled to itself): the runner wires them locally.
      if (e.node === host.node) continue;
      out.push({
        link: l.id,
        dialer: { node: host.node, iface: host.iface },
        listener: { node: e.node, iface: e.iface },
        port: port++,
      });
    }
    if (l.kind === 'segment') {
      // A segment's switch runs in the host's runner: members dial the host, not the reverse.
      for (const c of out.slice(first)) [c.dialer, c.listener] = [c.listener, c.dialer];
    }
  }
  return out;
}

/** The node's link ends, as `topo node` arguments: `--link ID@NODE:IFACE=listen:PORT|dial:HOST:PORT`. */
export function linkArgs(node: string, conns: readonly TcpConnection[], hostOf: (node: string) => string): string[] {
  const args: string[] = [];
  for (const c of conns) {
    if (c.listener.node === node) args.push('--link', `${c.link}@${c.dialer.node}:${c.dialer.iface}=listen:${c.port}`);
    if (c.dialer.node === node) args.push('--link', `${c.link}@${c.listener.node}:${c.listener.iface}=dial:${hostOf(c.listener.node)}:${c.port}`);
  }
  return args;
}

/** A `--link` argument as `topo node` reads it (the inverse of linkArgs); `/plain` marks a hello-less end. */
export interface LinkArg {
  link: string;
  peer: { node: string; iface: string };
  role: 'listen' | 'dial';
  /** dial only: the peer runner's host. */
  host?: string;
  port: number;
  plain: boolean;
}

const LINK_ARG = /^([^@\s]+)@([^:\s]+):([^=\s]+)=(listen|dial):(?:(\[[0-9a-fA-F:.]+\]|[^:\s/[\]]+):)?(\d{1,5})(\/plain)?$/;

export function parseLinkArg(arg: string): LinkArg | string {
  const m = LINK_ARG.exec(arg);
  const usage = 'expected ID@NODE:IFACE=listen:PORT or ID@NODE:IFACE=dial:HOST:PORT (optionally ending in /plain)';
  if (!m) return usage;
  const [, link, node, iface, role, host, portText, plain] = m;
  const port = Number(portText);
  if (port < 1 || port > 65535) return `port ${portText} is out of range (1-65535)`;
  if (role === 'dial' && host === undefined) return `a dialling end needs the peer's host: ${usage}`;
  if (role === 'listen' && host !== undefined) return `a listening end binds the address of --listen, not ${host}: ${usage}`;
  return {
    link: link!, peer: { node: node!, iface: iface! }, role: role as 'listen' | 'dial',
    ...(host === undefined ? {} : { host: host.replace(/^\[|\]$/g, '') }), port, plain: plain !== undefined,
  };
}
