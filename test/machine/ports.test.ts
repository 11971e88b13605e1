// Host ports: explicit ones must be free (every taken one reported), "auto" ones free for their own protocol.
import dgram from 'node:dgram';
import net from 'node:net';
import getPort from 'get-port';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { allocateHostPorts, FORWARD_BIND, hostPortIn } from '../../src/machine/ports.js';
import type { PortForward } from '../../src/topology/model.js';
import { node } from '../helpers/model.js';

vi.mock('get-port', async (importOriginal) => {
  const actual = await importOriginal<typeof import('get-port')>();
  return { ...actual, default: vi.fn(actual.default) };
});

const open: (net.Server | dgram.Socket)[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => new Promise<void>((resolve) => void s.close(() => resolve()))));
});

async function holdTcp(port = 0): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(port, FORWARD_BIND, resolve));
  open.push(server);
  return (server.address() as net.AddressInfo).port;
}

async function holdUdp(port = 0): Promise<number> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(port, FORWARD_BIND, resolve));
  open.push(sock);
  return sock.address().port;
}

/** A port free right now (bound then released). */
async function freePort(): Promise<number> {
  const port = await holdTcp();
  await new Promise<void>((resolve) => void (open.pop() as net.Server).close(() => resolve()));
  return port;
}

const withPorts = (name: string, ...ports: PortForward[]) => node(name, { ports });

describe('allocateHostPorts', () => {
  it('binds where the forward says, warning once for a non-loopback address and never for loopback', async () => {
    const notices: string[] = [];
    const forwards = await allocateHostPorts(
      [withPorts('a', { guest: 22, host: 'auto', protocol: 'tcp', bind: '0.0.0.0' }, { guest: 80, host: 'auto', protocol: 'tcp', bind: '127.0.0.2' }, { guest: 81, host: 'auto', protocol: 'tcp' })],
      (m) => notices.push(m),
    );
    const [exposed, local, plain] = forwards.get('a')!;
    expect(exposed).toMatchObject({ guest: 22, bind: '0.0.0.0' });
    expect(local).toMatchObject({ guest: 80, bind: '127.0.0.2' });
    expect(plain).toMatchObject({ guest: 81, bind: FORWARD_BIND });
    expect(notices).toEqual([`warning: a: guest port 22/tcp is forwarded on 0.0.0.0:${exposed!.host}, reachable from other hosts (bind: 127.0.0.1 keeps it local)`]);
  });

  it('an explicit port allocated, released and allocated again in one process is still free', async () => {
    const port = await freePort();
    const nodes = [withPorts('a', { guest: 80, host: port, protocol: 'tcp' })];
    for (let i = 0; i < 3; i++) {
      const forwards = await allocateHostPorts(nodes);
      expect(forwards.get('a')).toEqual([{ protocol: 'tcp', guest: 80, host: port, bind: FORWARD_BIND }]);
      // "Release": what QEMU does with it in between; the port must be usable again, not locked in-process.
      await holdTcp(port);
      await new Promise<void>((resolve) => void (open.pop() as net.Server).close(() => resolve()));
    }
  });

  it('reports every taken explicit port in one line', async () => {
    const tcp = await holdTcp();
    const udp = await holdUdp();
    const nodes = [withPorts('a', { guest: 80, host: tcp, protocol: 'tcp' }), withPorts('b', { guest: 53, host: udp, protocol: 'udp' })];
    const err = await allocateHostPorts(nodes).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'E_PORT_TAKEN',
      message: `host ports already in use: ${tcp}/tcp (a, guest port 80), ${udp}/udp (b, guest port 53)`,
      hint: 'free them, or use host: auto in those forwards for free ports',
    });
  });

  it('one taken port keeps the per-node message', async () => {
    const tcp = await holdTcp();
    await expect(allocateHostPorts([withPorts('a', { guest: 80, host: tcp, protocol: 'tcp' })])).rejects.toMatchObject({
      code: 'E_PORT_TAKEN',
      node: 'a',
      message: `host port ${tcp}/tcp (forward to guest port 80) is already in use`,
    });
  });

  it('host: auto for UDP is a port free for UDP (a TCP probe would accept a UDP-taken one)', async () => {
    const udpTaken = await holdUdp();
    // Whatever a TCP-only picker offers, here a port that is free for TCP but taken for UDP.
    vi.mocked(getPort).mockResolvedValue(udpTaken);
    try {
      const forwards = await allocateHostPorts([withPorts('a', { guest: 53, host: 'auto', protocol: 'udp' })]);
      const host = forwards.get('a')![0]!.host;
      expect(host).not.toBe(udpTaken);
      expect(await holdUdp(host)).toBe(host);
    } finally {
      vi.mocked(getPort).mockReset();
    }
  });

  it('auto ports differ from each other and from the explicit ones of the same lab', async () => {
    const explicit = await freePort();
    const nodes = [
      withPorts('a', { guest: 80, host: explicit, protocol: 'tcp' }, { guest: 22, host: 'auto', protocol: 'tcp' }, { guest: 23, host: 'auto', protocol: 'tcp' }),
      withPorts('b', { guest: 53, host: 'auto', protocol: 'udp' }, { guest: 54, host: 'auto', protocol: 'udp' }),
    ];
    const forwards = await allocateHostPorts(nodes);
    const tcp = forwards.get('a')!.map((f) => f.host);
    const udp = forwards.get('b')!.map((f) => f.host);
    expect(new Set(tcp).size).toBe(3);
    expect(new Set(udp).size).toBe(2);
  });
});

describe('hostPortIn (lab.hostPort)', () => {
  const fwds = [{ guest: 22, host: 40022, protocol: 'tcp' as const }, { guest: 53, host: 40053, protocol: 'udp' as const }];
  it('finds the host port of a forwarded guest port, tcp by default', () => {
    expect(hostPortIn('r1', fwds, 22)).toBe(40022);
    expect(hostPortIn('r1', fwds, 53, 'udp')).toBe(40053);
  });
  it('names what is forwarded when the port is not', () => {
    expect(() => hostPortIn('r1', fwds, 53)).toThrow('node r1 has no forward of guest port 53/tcp (forwarded: 22/tcp, 53/udp)');
  });
});
