// The checked-in examples with Debian packages, on real QEMU as CI runs them: a ring of FRR routers running
// OSPF (reroutes around a cut link and back) and iperf3 across a 20 Mbit/s link. The first run builds the layers.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topo } from '../helpers/cli.js';

let base: string;
beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-packages-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('package examples', () => {
  it.each(['frr-ospf', 'iperf'])('topologies/scenarios/%s.scenario.yaml passes', async (name) => {
    const junit = path.join(base, `${name}.xml`);
    const res = await topo(['test', '--no-ui', `topologies/scenarios/${name}.scenario.yaml`, '--junit', junit, '--bundle', path.join(base, 'bundles')], { TOPO_RUN_DIR: path.join(base, 'run') });
    expect(res.all).not.toMatch(/FAIL/);
    expect(res.exitCode).toBe(0);
    expect(await readFile(junit, 'utf8')).not.toContain('<failure');
  }, 900_000);
});
