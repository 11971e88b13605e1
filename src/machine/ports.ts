// Host side of port forwards: explicit ports must be free before any VM starts; "auto" gets a free one.
import dgram from 'node:dgram';
import net from 'node:net';
import getPort from 'get-port';
import { TopoError } from '../errors.js';
import type { HostForward } from '../qemu/plan.js';
import type { PortForward, ResolvedNode } from '../topology/model.js';

export const FORWARD_BIND = '127.0.0.1';

type Probe = net.Server | dgram.Socket;

/** Forwards on a non-loopback address are reachable from other hosts: said once per forward through `onNotice`. */
export function exposedWarning(node: string, f: HostForward): string | undefined {
  if (f.bind.startsWith('127.')) return undefined;
  return `warning: ${node}: guest port ${f.guest}/${f.protocol} is forwarded on ${f.bind}:${f.host}, reachable from other hosts (bind: 127.0.0.1 keeps it local)`;
}

export async function allocateHostPorts(nodes: readonly ResolvedNode[], onNotice?: (message: string) => void): Promise<Map<string, HostForward[]>> {
  const out = new Map<string, HostForward[]>();
  const taken: { node: string; port: PortForward & { host: number } }[] = [];
  // Probes stay bound until every port is chosen: an "auto" port then never lands on one chosen here already.
  const held: Probe[] = [];
  try {
    for (const node of nodes) {
      const forwards: HostForward[] = [];
      for (const p of node.ports) {
        const bind = p.bind ?? FORWARD_BIND;
        let host: number;
        if (p.host !== 'auto') {
          host = p.host;
          if (!(await probe(p.host, p.protocol, bind, held))) taken.push({ node: node.name, port: { ...p, host } });
        } else if (p.protocol === 'udp') {
          // get-port only knows TCP: the OS picks a free UDP port.
          const picked = await probe(0, 'udp', bind, held);
          if (picked === undefined) throw new TopoError(`no free UDP port on ${bind}`, { code: 'E_PORT_TAKEN', node: node.name, hint: 'check the address is one of this host\'s' });
          host = picked;
        } else {
          host = await getPort({ host: bind });
          await probe(host, 'tcp', bind, held);
        }
        const fwd = { protocol: p.protocol, guest: p.guest, host, bind };
        const warning = exposedWarning(node.name, fwd);
        if (warning) onNotice?.(warning);
        forwards.push(fwd);
      }
      out.set(node.name, forwards);
    }
  } finally {
    await Promise.all(held.map(release));
  }
  if (taken.length > 0) throw takenError(taken);
  return out;
}

function takenError(taken: { node: string; port: PortForward & { host: number } }[]): TopoError {
  if (taken.length === 1) {
    const [{ node, port }] = taken as [(typeof taken)[0]];
    return new TopoError(`host port ${port.host}/${port.protocol} (forward to guest port ${port.guest}) is already in use`, {
      code: 'E_PORT_TAKEN',
      node,
      hint: `free it, or use { guest: ${port.guest}, host: auto } for a free port`,
    });
  }
  const list = taken.map(({ node, port }) => `${port.host}/${port.protocol} (${node}, guest port ${port.guest})`).join(', ');
  return new TopoError(`host ports already in use: ${list}`, {
    code: 'E_PORT_TAKEN',
    hint: 'free them, or use host: auto in those forwards for free ports',
  });
}

/**
 * Bind `port` (0: any) on the forward address like QEMU will; resolves with the bound port (the socket is added to
 * `held`), or undefined when it is taken. Not get-port: it refuses a port it handed out in the last ~30 s in-process.
 */
function probe(port: number, protocol: 'tcp' | 'udp', bind: string, held: Probe[]): Promise<number | undefined> {
  return new Promise((resolve) => {
    if (protocol === 'tcp') {
      const server = net.createServer();
      server.once('error', () => resolve(undefined));
      server.listen({ port, host: bind, exclusive: true }, () => {
        held.push(server);
        resolve((server.address() as net.AddressInfo).port);
      });
      return;
    }
    const sock = dgram.createSocket('udp4');
    sock.once('error', () => {
      sock.close();
      resolve(undefined);
    });
    sock.bind({ port, address: bind, exclusive: true }, () => {
      held.push(sock);
      resolve(sock.address().port);
    });
  });
}

function release(p: Probe): Promise<void> {
  return new Promise((resolve) => void p.close(() => resolve()));
}

/** The host port forwarded to `guest` (tcp unless said otherwise) among a node's forwards; E_NO_PORT when none is. */
export function hostPortIn(node: string, forwards: readonly { guest: number; host: number; protocol: 'tcp' | 'udp' }[], guest: number, protocol: 'tcp' | 'udp' = 'tcp'): number {
  const f = forwards.find((p) => p.guest === guest && p.protocol === protocol);
  if (f) return f.host;
  const have = forwards.map((p) => `${p.guest}/${p.protocol}`).join(', ') || 'none';
  throw new TopoError(`node ${node} has no forward of guest port ${guest}/${protocol} (forwarded: ${have})`, { code: 'E_NO_PORT', node, hint: `add it to the node's ports, e.g. ports: [{ guest: ${guest}, host: auto }]` });
}
