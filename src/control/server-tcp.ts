// Serves one lab's control protocol on a TCP port (a runner of a spread lab, `topo node --control-port`). Nothing of
// the protocol, not even its hello, reaches a peer before both sides proved they hold the lab secret.
import type { AddressInfo } from 'node:net';
import { TopoError } from '../errors.js';
import { mutualHello } from '../host/mutual-hello.js';
import type { LabHandle } from '../api/handles.js';
import type { ServedLab } from '../api/served.js';
import { AUTH_TIMEOUT_MS, controlHelloSpec } from './protocol.js';
import { controlServer, type ControlServer, type ServeOptions } from './server.js';

/** Connections that may sit in their hello at once (as for link ends): more are closed at once, so silence costs little. */
export const MAX_IN_HELLO = 16;

export interface TcpServeOptions extends ServeOptions {
  host: string;
  /** 0: any free port (see address()). */
  port: number;
  /** The lab secret (the bytes, not their hex). */
  secret: Buffer;
  /** A peer must authenticate within this (default 5 s). */
  authTimeoutMs?: number;
}

export async function serveLabTcp(lab: LabHandle, host: ServedLab, opts: TcpServeOptions): Promise<ControlServer & { address(): AddressInfo }> {
  const spec = controlHelloSpec(lab.name, opts.secret);
  let inHello = 0;
  const served = controlServer(lab, host, opts, (sock, serve) => {
    if (inHello >= MAX_IN_HELLO) return void sock.destroy();
    inHello++;
    sock.setNoDelay(true);
    // A refused peer gets its socket closed: no reason on the wire (its own side says E_AUTH).
    mutualHello(sock, spec, 'listen', opts.authTimeoutMs ?? AUTH_TIMEOUT_MS)
      .finally(() => inHello--)
      .then(serve, () => sock.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    served.server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new TopoError(`cannot serve the control port ${opts.host}:${opts.port} (${err.code ?? err.message})`, {
        code: err.code === 'EADDRINUSE' ? 'E_PORT_TAKEN' : 'E_PORT', hint: 'another process holds it, or the address is not this host\'s',
      })));
    served.server.listen(opts.port, opts.host, () => resolve());
  });
  served.server.on('error', () => undefined);
  const address = () => served.server.address() as AddressInfo;
  return {
    path: `${opts.host}:${address().port}`,
    address,
    get buffered() {
      return served.buffered;
    },
    async close() {
      served.close();
    },
  };
}
