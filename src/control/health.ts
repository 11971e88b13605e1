// The runner's health port (Kubernetes probes): /alive while the process serves, /ready once the guest is ready
// and every link end has its peer. Plain HTTP on purpose: probes carry no secret and learn nothing they could abuse.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { TopoError } from '../errors.js';

export interface Readiness {
  ready: boolean;
  /** Why not (yet): "node r1 booting", "link l1@r2:eth0 waiting for its peer". */
  waiting: string[];
}

export interface HealthServer {
  address(): AddressInfo;
  close(): Promise<void>;
}

export async function serveHealth(host: string, port: number, readiness: () => Readiness): Promise<HealthServer> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
    if (url === '/alive') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('alive\n');
    if (url !== '/ready') return void res.writeHead(404).end();
    const r = readiness();
    res.writeHead(r.ready ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(r)}\n`);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new TopoError(`cannot serve the health port on ${host}:${port}: ${err.message}`, {
      code: 'E_LISTEN', cause: err, hint: 'choose another --health-port',
    })));
    server.listen(port, host, () => resolve());
  });
  return {
    address: () => server.address() as AddressInfo,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
