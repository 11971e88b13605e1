// `topo node` lifecycles that need no VM (the fake QEMU): not ready while its peer is away, Ctrl-C to the group
// leaves nothing behind, and a node that dies for good ends the runner with exit 1 (the pod restarts it).
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import getPort from 'get-port';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ctrlC, topo, waitForOutput } from '../helpers/cli.js';

const fake = fileURLToPath(new URL('../fixtures/fake-qemu.mjs', import.meta.url));
let base: string;
let file: string;
let secret: string;

beforeEach(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-nodefake-'));
  file = path.join(base, 'lab.yaml');
  secret = path.join(base, 'secret');
  const vm = `{ kernel: ${JSON.stringify(fake)}, host_network: false, ready: { console: "fake: ready", timeout: 10s } }`;
  await writeFile(file, `name: nodefake\nnodes:\n  a: ${vm}\n  b: ${vm}\nlinks:\n  - endpoints: [a:eth0, b:eth0]\n`);
  await writeFile(secret, '5a'.repeat(32), { mode: 0o600 });
});
afterEach(() => rm(base, { recursive: true, force: true }));

/** Nobody listens on the peer's port (`peer`): the link end keeps dialling. Not async: a child is a thenable. */
function runner(env: Record<string, string>, health: number, peer: number) {
  const args = ['node', file, 'a', '--secret-file', secret, '--run-dir', base, '--health-port', String(health), '--link', `l1@b:eth0=dial:127.0.0.1:${peer}`];
  return topo(args, { TOPO_QEMU: fake, ...env }, { group: true });
}

it('answers /alive, and /ready 503 naming the link while its peer is away; Ctrl-C to the group leaves nothing', async () => {
  const health = await getPort();
  const child = runner({}, health, await getPort());
  const out = await waitForOutput(child, /topo node: a of nodefake is ready/);
  const pid = Number(/booting \(pid (\d+)\)/.exec(out)![1]);
  expect((await fetch(`http://127.0.0.1:${health}/alive`)).status).toBe(200);
  const ready = await fetch(`http://127.0.0.1:${health}/ready`);
  expect(ready.status).toBe(503);
  expect(await ready.json()).toEqual({ ready: false, waiting: ['link l1@b:eth0 waiting for its peer'] });
  ctrlC(child);
  const r = await child;
  expect(r.exitCode, r.all).toBe(0);
  expect(existsSync(`/proc/${pid}`)).toBe(false);
  expect(existsSync(path.join(base, 'nodefake'))).toBe(false);
});

it('ends with exit 1 and the reason when its node dies for good, leaving nothing behind', async () => {
  const r = await runner({ FAKE_QEMU_MODE: 'die-after-ready' }, await getPort(), await getPort());
  expect(r.exitCode, r.all).toBe(1);
  expect(r.all).toMatch(/topo: error: .*\ba\b/);
  expect(r.all).not.toMatch(/\n\s+at /);
  expect(existsSync(path.join(base, 'nodefake'))).toBe(false);
});
