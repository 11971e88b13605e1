// Podman for the Kubernetes tests: the runner image built once (scripts/runner-image.sh), manifests played with
// `podman kube play` and always taken down again, pods' logs read. Every call runs with the project's containers.conf.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { parseAllDocuments, stringify } from 'yaml';
import { repoRoot, topo } from './cli.js';
import { until } from './wait.js';
import { forPodman43, podSpec, type Obj } from './podman-compat.js';

export const CONTAINERS_CONF = path.join(repoRoot, 'scripts', 'podman', 'containers.conf');
const env = { CONTAINERS_CONF };

/** `podman ARGS`, never rejecting: callers look at exitCode. */
export function podman(args: string[], opts: { timeout?: number } = {}) {
  return execa('podman', args, { env, reject: false, stdin: 'ignore', timeout: opts.timeout ?? 120_000 });
}

let image: Promise<string> | undefined;

/**
 * Builds (or finds, when its inputs are unchanged) the runner image; its reference. Once per process.
 * TOPO_TEST_RUNNER_TAG names another tag: a second checkout on the same machine leaves CI's image tag alone.
 */
export function ensureRunnerImage(tag = process.env.TOPO_TEST_RUNNER_TAG || 'localhost/topo-runner:ci'): Promise<string> {
  image ??= execa(path.join(repoRoot, 'scripts', 'runner-image.sh'), [tag], { env, reject: false, stdin: 'ignore', timeout: 900_000 }).then((r) => {
    if (r.exitCode !== 0) throw new Error(`scripts/runner-image.sh failed (${r.exitCode}):\n${r.stderr.slice(-4000)}`);
    return r.stdout.trim().split('\n').pop()!;
  });
  return image;
}

/** What one played manifest made: pod and container names, and what to remove afterwards. */
export interface KubeLab {
  readonly file: string;
  /** The objects as played (after forPodman43 unless `asIs`). */
  readonly objects: Obj[];
  /** Pod name of a Deployment or Pod, as podman names it. */
  podOf(workload: string): string;
  /** The container `container` (default: the pod's first) of a Deployment or Pod. */
  containerOf(workload: string, container?: string): string;
  logs(workload: string, container?: string): Promise<string>;
  down(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Podman 4.3 names a Deployment's pod <name>-pod-0 and a container <pod>-<container>. */
function podName(o: Obj): string {
  return o.kind === 'Deployment' ? `${o.metadata!.name!}-pod-0` : o.metadata!.name!;
}

/**
 * `podman kube play` of `yamlText` (through forPodman43 unless `asIs`); on failure everything it made is removed
 * before the error is thrown.
 */
export async function kubePlay(yamlText: string, opts: { timeout?: number; asIs?: boolean } = {}): Promise<KubeLab> {
  const parsed = parseAllDocuments(yamlText).map((d) => d.toJS() as Obj).filter((o) => o?.kind);
  const dir = await mkdtemp(path.join(tmpdir(), 'topo-kube-'));
  const objects = opts.asIs ? parsed : await forPodman43(parsed, path.join(dir, 'secrets'));
  const file = path.join(dir, 'manifests.yaml');
  await writeFile(file, opts.asIs ? yamlText : objects.map((o) => `---\n${stringify(o, { lineWidth: 0 })}`).join(''));
  const workload = (name: string) => {
    const o = objects.find((x) => podSpec(x) !== undefined && x.metadata?.name === name);
    if (!o) throw new Error(`no Pod or Deployment named ${name} in the played manifests`);
    return o;
  };
  const lab: KubeLab = {
    file,
    objects,
    podOf: (name) => podName(workload(name)),
    containerOf: (name, container) => {
      const o = workload(name);
      return `${podName(o)}-${container ?? podSpec(o)!.containers[0].name}`;
    },
    logs: async (name, container) => {
      const r = await podman(['logs', lab.containerOf(name, container)]);
      return `${r.stdout}${r.stdout && r.stderr ? '\n' : ''}${r.stderr}`;
    },
    down: async () => {
      await kubeDown(file, objects);
      await rm(dir, { recursive: true, force: true });
    },
    [Symbol.asyncDispose]: () => lab.down(),
  };
  const r = await podman(['kube', 'play', file], { timeout: opts.timeout ?? 300_000 });
  if (r.exitCode !== 0) {
    await lab.down();
    throw new Error(`podman kube play failed (${r.exitCode}): ${r.stderr.split('\n').slice(0, 5).join('\n')}`);
  }
  return lab;
}

/** The pods, volumes and secrets `podman kube play` makes for `objects` (volumes: ConfigMaps, Secrets, emptyDirs). */
function madeBy(objects: Obj[]): { pods: Set<string>; volumes: Set<string>; secrets: Set<string>; podLabels: Record<string, string>[] } {
  const made = { pods: new Set<string>(), volumes: new Set<string>(), secrets: new Set<string>(), podLabels: [] as Record<string, string>[] };
  for (const o of objects) {
    const name = o.metadata?.name;
    if (!name) continue;
    if (o.kind === 'ConfigMap') made.volumes.add(name);
    if (o.kind === 'Secret') {
      made.secrets.add(name);
      made.volumes.add(name);
    }
    const spec = podSpec(o);
    if (!spec) continue;
    made.pods.add(podName(o));
    const labels = o.kind === 'Deployment' ? o.spec?.template?.metadata?.labels : o.metadata?.labels;
    if (labels && Object.keys(labels).length > 0) made.podLabels.push(labels);
    for (const v of (spec.volumes ?? []) as Record<string, any>[]) {
      if (v.emptyDir) made.volumes.add(v.name);
      if (v.configMap?.name) made.volumes.add(v.configMap.name);
      if (v.secret?.secretName) made.volumes.add(v.secret.secretName);
    }
  }
  return made;
}

/**
 * Removes what `podman kube play FILE` made, also when the play stopped halfway (`kube down` then finds no pod and
 * removes nothing): `kube down`, then pods by name and by their labels, then volumes and secrets by name.
 */
export async function kubeDown(file: string, objects: Obj[]): Promise<void> {
  await podman(['kube', 'down', file]);
  const made = madeBy(objects);
  const pods = new Set(made.pods);
  for (const labels of made.podLabels) {
    const r = await podman(['pod', 'ps', '-q', ...Object.entries(labels).flatMap(([k, v]) => ['--filter', `label=${k}=${v}`])]);
    for (const id of r.stdout.split('\n').filter(Boolean)) pods.add(id);
  }
  if (pods.size > 0) await podman(['pod', 'rm', '-f', '--ignore', ...pods]);
  for (const v of made.volumes) await podman(['volume', 'rm', '-f', v]);
  for (const s of made.secrets) await podman(['secret', 'rm', s]);
}

/** What podman still has of `objects`: pods, volumes and secrets, as "pod NAME" lines (none after kubeDown). */
export async function leftovers(objects: Obj[]): Promise<string[]> {
  const made = madeBy(objects);
  const list = async (what: string) => (await podman([what, 'ls', '--format', '{{.Name}}'])).stdout.split('\n').filter(Boolean);
  const pods = (await podman(['pod', 'ps', '--format', '{{.Name}}'])).stdout.split('\n');
  return [
    ...pods.filter((p) => made.pods.has(p)).map((p) => `pod ${p}`),
    ...(await list('volume')).filter((v) => made.volumes.has(v)).map((v) => `volume ${v}`),
    ...(await list('secret')).filter((v) => made.secrets.has(v)).map((v) => `secret ${v}`),
  ];
}

/**
 * `topo k8s render FILE --host-network --lab-file` played by podman, resolved once every node is ready and every link
 * connected as the lab file sees it (podman 4.3 ignores readinessProbe; the control hello also proves these are this
 * lab's runners, where a bare /ready poll could meet another lab's on the same host port). On failure: the pods' logs
 * in the error, and nothing left behind.
 */
export async function playRendered(topologyFile: string, dir: string): Promise<{ lab: KubeLab; labFile: string }> {
  const labFile = path.join(dir, 'lab.json');
  const r = await topo(['k8s', 'render', topologyFile, '--host-network', '--image', await ensureRunnerImage(), '--lab-file', labFile]);
  if (r.exitCode !== 0) throw new Error(`topo k8s render failed: ${r.all}`);
  const lab = await kubePlay(r.stdout);
  try {
    await labReady(labFile, 400_000);
  } catch (err) {
    const names = lab.objects.filter((o) => o.kind === 'Deployment').map((o) => o.metadata!.name!);
    const logs = await Promise.all(names.map(async (n) => `${n}:\n${await lab.logs(n)}`));
    await lab.down();
    throw new Error(`${(err as Error).message}\n${logs.join('\n')}`);
  }
  return { lab, labFile };
}

interface PsJson { nodes: { state: string }[]; links: { remote?: { connected: boolean }[] }[] }

/** Every node ready and every TCP link end connected, per `topo ps --lab-file`. */
export async function labReady(labFile: string, timeoutMs: number): Promise<void> {
  await until('every runner ready and every link connected', async () => {
    const ps = await topo(['ps', '--lab-file', labFile, '--json']);
    const s = ps.exitCode === 0 ? (JSON.parse(ps.stdout) as PsJson[])[0] : undefined;
    return !!s && s.nodes.every((n) => n.state === 'ready') && s.links.every((l) => (l.remote ?? []).every((e) => e.connected));
  }, { timeoutMs, intervalMs: 1000 });
}

/** Takes a played lab down and removes `dir`; what podman still has of it (nothing, when all went well). */
export async function endPlay(lab: KubeLab | undefined, dir: string): Promise<string[]> {
  const objects = lab?.objects ?? [];
  await lab?.down();
  if (dir) await rm(dir, { recursive: true, force: true });
  return leftovers(objects);
}
