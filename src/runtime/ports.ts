// Host side of port forwards: explicit ports must be free before any VM starts; "auto" gets a free one (get-port).
import dgram from 'node:dgram';
import getPort from 'get-port';
import { TopoError } from '../errors.js';
import type { HostForward } from '../qemu/plan.js';
import type { ResolvedNode } from '../topology/model.js';

export const FORWARD_BIND = '127.0.0.1';

export async function allocateHostPorts(nodes: readonly ResolvedNode[]): Promise<Map<string, HostForward[]>> {
  const out = new Map<string, HostForward[]>();
  const taken: TopoError[] = [];
  for (const node of nodes) {
    const forwards: HostForward[] = [];
    for (const p of node.ports) {
      if (p.host === 'auto') {
        forwards.push({ protocol: p.protocol, guest: p.guest, host: await getPort({ host: FORWARD_BIND }), bind: FORWARD_BIND });
        continue;
      }
      if (!(await isFree(p.host, p.protocol))) {
        taken.push(
          new TopoError(`host port ${p.host}/${p.protocol} (forward to guest port ${p.guest}) is already in use`, {
            code: 'E_PORT_TAKEN',
            node: node.name,
            hint: `free it, or use { guest: ${p.guest}, host: auto } for a free port`,
          }),
        );
      }
      forwards.push({ protocol: p.protocol, guest: p.guest, host: p.host, bind: FORWARD_BIND });
    }
    out.set(node.name, forwards);
  }
  if (taken.length > 0) throw taken[0];
  return out;
}

async function isFree(port: number, protocol: 'tcp' | 'udp'): Promise<boolean> {
  if (protocol === 'tcp') return (await getPort({ port, host: FORWARD_BIND })) === port;
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    sock.once('error', () => resolve(false));
    sock.bind(port, FORWARD_BIND, () => sock.close(() => resolve(true)));
  });
}
