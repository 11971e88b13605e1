// A node with packages: in a runner pod (podman kube play, podman 4.3, TCG): the image's guest cache is read-only
// for the pod's uid 1000, so the runner resolves and downloads the packages with the image's apt lists and builds
// the layer in TOPO_LAYER_DIR (the /tmp emptyDir). One node: the layer is what is tested, not the links.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topo } from '../helpers/cli.js';
import { ensureRunnerImage, endPlay, playRendered, podman, type KubeLab } from '../helpers/podman.js';

const TOPOLOGY = 'name: pkgs\nnodes:\n  p1:\n    packages: [iperf3]\n';

describe('packages: in a runner pod: the layer is built by the runner as uid 1000', () => {
  let lab: KubeLab | undefined;
  let dir = '';
  let labFile = '';

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'topo-podman-pkgs-'));
    const file = path.join(dir, 'pkgs.yaml');
    await writeFile(file, TOPOLOGY);
    await ensureRunnerImage();
    const start = Date.now();
    ({ lab, labFile } = await playRendered(file, dir));
    console.log(`podman-packages: pod ready ${((Date.now() - start) / 1000).toFixed(1)} s after render (play, layer build, boot)`);
  }, 900_000);

  // Nothing of the play is left: pods, the ConfigMap's volume, per-pod emptyDirs, secrets.
  afterAll(async () => expect(await endPlay(lab, dir)).toEqual([]), 300_000);

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
