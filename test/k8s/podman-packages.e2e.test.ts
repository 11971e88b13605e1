// A node with packages: in a runner pod (podman kube play, podman 4.3, TCG): the image's guest cache is read-only
// for the pod's uid 1000, so the runner resolves and downloads the packages with the image's apt lists and builds
// the layer in TOPO_LAYER_DIR (the /tmp emptyDir). One node: the layer is what is tested, not the links.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topo } from '../helpers/cli.js';
import { ensureRunnerImage, kubePlay, leftovers, podman, type KubeLab } from '../helpers/podman.js';
import { until } from '../helpers/wait.js';

const TOPOLOGY = 'name: pkgs\nnodes:\n  p1:\n    packages: [iperf3]\n';

describe('packages: in a runner pod: the layer is built by the runner as uid 1000', () => {
  let lab: KubeLab | undefined;
  let dir = '';
  let labFile = '';

  beforeAll(async () => {
    const image = await ensureRunnerImage();
    dir = await mkdtemp(path.join(tmpdir(), 'topo-podman-pkgs-'));
    const file = path.join(dir, 'pkgs.yaml');
    labFile = path.join(dir, 'pkgs.lab.json');
    await writeFile(file, TOPOLOGY);
    const r = await topo(['k8s', 'render', file, '--host-network', '--image', image, '--lab-file', labFile]);
    if (r.exitCode !== 0) throw new Error(`topo k8s render failed: ${r.all}`);
    lab = await kubePlay(r.stdout);
    // Ready as the lab file sees it (podman 4.3 ignores readinessProbe): the control hello proves it is this lab's
    // runner, where a bare /ready poll could meet another lab's runner on the same host port.
    const state = async () => {
      const ps = await topo(['ps', '--lab-file', labFile, '--json']);
      return ps.exitCode === 0 ? (JSON.parse(ps.stdout) as { nodes: { state: string }[] }[])[0]?.nodes[0]?.state : undefined;
    };
    const start = Date.now();
    try {
      await until('p1 ready through the lab file', async () => (await state()) === 'ready', { timeoutMs: 400_000, intervalMs: 2000 });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${await lab.logs('topo-pkgs-p1')}`);
    }
    console.log(`podman-packages: pod ready ${((Date.now() - start) / 1000).toFixed(1)} s after kube play`);
  }, 900_000);

  afterAll(async () => {
    const objects = lab?.objects ?? [];
    await lab?.down();
    await rm(dir, { recursive: true, force: true });
    expect(await leftovers(objects)).toEqual([]);
  }, 300_000);

  it('runs iperf3 from the layer in the guest', async () => {
    const r = await topo(['exec', '--lab-file', labFile, 'p1', '--', 'iperf3', '--version']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/^iperf 3\.\d+/);
  }, 60_000);

  it('built the layer in the pod under TOPO_LAYER_DIR, as uid 1000, not in the image guest cache', async () => {
    const c = lab!.containerOf('topo-pkgs-p1');
    const r = await podman(['exec', c, 'sh', '-c', 'id -u; stat -c "%u %n" /tmp/topo-layers/*/layer.img; ls /var/cache/topo']);
    expect(r.exitCode, r.stderr).toBe(0);
    const [uid, layer, ...cache] = r.stdout.trim().split('\n');
    expect(uid).toBe('1000');
    expect(layer).toMatch(/^1000 \/tmp\/topo-layers\/[0-9a-f]{20}\/layer\.img$/);
    expect(cache).not.toContain('layers');
  }, 60_000);
});
