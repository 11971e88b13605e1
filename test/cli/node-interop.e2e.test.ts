// Interop: a plain QEMU with `-netdev stream` (no topo around it) is the other end of a link of a `topo node` runner.
import { mkdtemp, rm } from 'node:fs/promises';
import { closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import getPort from 'get-port';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect } from '../../src/control/remote-lab.js';
import { ensureGuest, readyLine, renderGuestConfig } from '../../src/guest/index.js';
import { loadTopology } from '../../src/topology/index.js';
import { bootGuest, socketpair, type BootedGuest } from '../helpers/boot-guest.js';
import { repoRoot, topo, waitForOutput, type TopoChild } from '../helpers/cli.js';

const file = path.join(repoRoot, 'topologies/pair.yaml');
let dir: string;
let runner: TopoChild;
let plain: BootedGuest | undefined;

/** The one link NIC on a QEMU stream client towards 127.0.0.1:port instead of an inherited socket. */
const streamTo = (port: number) => (argv: readonly string[]): string[] =>
  argv.map((a, i) => argv[i - 1] !== '-netdev' ? a : a.replace(/^socket,id=([^,]+),fd=\d+$/, `stream,id=$1,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port=${port}`));

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'topo-node-interop-'));
  const port = await getPort();
  // No secret: the only link end is hello-less, so a plain QEMU can be the peer.
  runner = topo(['node', file, 'a', '--run-dir', dir, '--link', `l1@b:eth1=listen:${port}/plain`], {}, { group: true });
  await waitForOutput(runner, /of pair is ready; link ends: l1@b:eth1 listening on 127\.0\.0\.1:\d+ \(hello-less\)/);
  const loaded = await loadTopology(file);
  if (!loaded.ok) throw new Error('pair.yaml does not load');
  const b = loaded.topology.nodes.find((n) => n.name === 'b')!;
  const [dangling, unused] = socketpair();
  closeSync(dangling);
  plain = await bootGuest(await ensureGuest(), {
    config: renderGuestConfig(b, { nonce: 'b' }),
    links: [{ fd: unused, mac: b.interfaces.find((i) => i.name === 'eth1')!.mac }],
    mapArgv: streamTo(port),
  });
  expect(plain.argv.join(' ')).toContain('-netdev stream,id=');
  await plain.waitForConsole(readyLine('b'), 180_000);
}, 300_000);

afterAll(async () => {
  await plain?.stop();
  if (runner?.pid && runner.exitCode === null) process.kill(-runner.pid, 'SIGTERM');
  await runner;
  await rm(dir, { recursive: true, force: true });
});

it('a plain QEMU on -netdev stream answers pings from a topo node runner', async () => {
  const lab = await connect('pair', { runDirBase: dir });
  try {
    const r = await lab.exec('a', ['ping', '-c', '3', '-W', '3', '10.0.0.2']);
    expect(r.exitCode, r.stdout.toString()).toBe(0);
    const link = (await lab.status()).links[0]!;
    expect(link.remote).toMatchObject([{ peer: 'b:eth1', role: 'listen', connected: true, refused: 0 }]);
    // Frames crossed the runner's forwarder both ways, counted at both endpoints.
    const counters = Object.fromEntries(link.counters!.map((c) => [c.endpoint, c]));
    expect(counters['b:eth1']!.rx.frames).toBeGreaterThanOrEqual(3);
    expect(counters['a:eth1']!.rx.frames).toBeGreaterThanOrEqual(3);
  } finally {
    await lab.close();
  }
}, 60_000);
