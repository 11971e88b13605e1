// The runner image and `topo k8s render --host-network` under `podman kube play` (podman 4.3, no registry, TCG).
// The rendered manifests are played as they are, but for the Secret (see test/helpers/podman-compat.ts).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, topo } from '../helpers/cli.js';
import { CONTAINERS_CONF, ensureRunnerImage, labReady, endPlay, playRendered, podman, type KubeLab } from '../helpers/podman.js';
import { until } from '../helpers/wait.js';

const ringFile = path.join(repoRoot, 'topologies', 'ring.yaml');

describe('the ring on podman kube play: one runner pod per node, links over TCP on loopback', () => {
  let lab: KubeLab | undefined;
  let dir = '';
  let labFile = '';

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'topo-podman-ring-'));
    ({ lab, labFile } = await playRendered(ringFile, dir));
  }, 900_000);

  // Nothing of the play is left: pods, the ConfigMap's volume, per-pod emptyDirs, secrets.
  afterAll(async () => expect(await endPlay(lab, dir)).toEqual([]), 300_000);

  it('shows every node ready through the lab file', async () => {
    const r = await topo(['ps', '--lab-file', labFile, '--json']);
    expect(r.exitCode, r.all).toBe(0);
    const [status] = JSON.parse(r.stdout) as { nodes: { name: string; state: string }[]; links: { id: string }[] }[];
    expect(status!.nodes.map((n) => `${n.name} ${n.state}`)).toEqual(['n1 ready', 'n2 ready', 'n3 ready', 'n4 ready']);
    expect(status!.links.map((l) => l.id)).toEqual(['l1', 'l2', 'l3', 'l4']);
  });

  it('passes the ring scenario attached to the pods (link cut, impairment, exit codes)', async () => {
    const scenario = path.join(repoRoot, 'topologies', 'scenarios', 'ring.scenario.yaml');
    const r = await topo(['test', scenario, '--attach', 'ring', '--lab-file', labFile]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toMatch(/passed: \d+\/\d+ steps/);
  }, 300_000);

  it('routes across pods: n1 reaches n3 through n2 (two TCP links, three runners)', async () => {
    const exec = (node: string, cmd: string) => topo(['exec', '--lab-file', labFile, node, '--', 'sh', '-c', cmd]);
    for (const [node, cmd] of [['n1', 'ip route replace 10.1.23.0/30 via 10.1.12.2'], ['n3', 'ip route replace 10.1.12.0/30 via 10.1.23.1']]) {
      const r = await exec(node!, cmd!);
      expect(r.exitCode, r.all).toBe(0);
    }
    const r = await exec('n1', 'ping -c 3 -W 3 10.1.23.2');
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/ttl=63/);
  }, 120_000);

  it('when a pod dies, its peers see the link down and the rest of the lab runs on; the restarted runner rejoins', async () => {
    const status = async () => JSON.parse(await (async () => {
      const r = await topo(['ps', '--lab-file', labFile, '--json']);
      return r.stdout;
    })())[0] as { nodes: { name: string; state: string; pid?: number }[]; links: { id: string; remote?: { peer: string; connected: boolean }[] }[] };
    const before = await status();
    const n1pid = before.nodes.find((n) => n.name === 'n1')!.pid;
    // The runner killed from the host, as a crash or the OOM killer would (`podman kill` counts as stopped by the
    // user, which no restart policy restarts); the engine restarts it (restartPolicy Always).
    const pid = Number((await podman(['inspect', '--format', '{{.State.Pid}}', lab!.containerOf('topo-ring-n2')])).stdout.trim());
    expect(pid).toBeGreaterThan(1);
    process.kill(pid, 'SIGKILL');
    const l1 = (s: Awaited<ReturnType<typeof status>>) => s.links.find((l) => l.id === 'l1')?.remote?.find((r) => r.peer === 'n2:eth1');
    await until('n1 sees its link to n2 down', async () => l1(await status())?.connected === false, { timeoutMs: 30_000 });
    await labReady(labFile, 300_000);
    const after = await status();
    expect(l1(after)?.connected).toBe(true);
    // n1's guest never stopped: the same QEMU.
    expect(after.nodes.find((n) => n.name === 'n1')!.pid).toBe(n1pid);
    const r = await topo(['exec', '--lab-file', labFile, 'n1', '--', 'ping', '-c', '2', '-W', '3', '10.1.12.2']);
    expect(r.exitCode, r.all).toBe(0);
  }, 400_000);
});

describe('scripts/runner-image.sh', () => {
  it('only tags the image when its inputs are unchanged', async () => {
    const first = await ensureRunnerImage();
    const r = await execa(path.join(repoRoot, 'scripts', 'runner-image.sh'), ['localhost/topo-runner:again'], { env: { CONTAINERS_CONF }, reject: false });
    try {
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe('localhost/topo-runner:again');
      expect(r.stderr).toMatch(/exists \(inputs unchanged\): tagged localhost\/topo-runner:again/);
      const ids = await Promise.all([first, 'localhost/topo-runner:again'].map(async (ref) => (await podman(['image', 'inspect', '--format', '{{.Id}}', ref])).stdout));
      expect(ids[1]).toBe(ids[0]);
    } finally {
      await podman(['untag', 'localhost/topo-runner:again', 'localhost/topo-runner:again']);
    }
  }, 300_000);
});
