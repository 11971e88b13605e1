// `topo k8s render`: golden manifests of the repository's ring, every object checked against the Kubernetes schemas.

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { toYaml } from '../../src/cli/k8s.js';
import { isTopoError } from '../../src/errors.js';
import { renderK8s, type K8sObject, type RenderOptions } from '../../src/k8s/render.js';
import { tcpConnections } from '../../src/k8s/plan.js';
import { labSeed } from '../../src/runtime/lab.js';
import { loadTopology, validateText } from '../../src/topology/index.js';
import type { ResolvedTopology } from '../../src/topology/model.js';
import { topo } from '../helpers/cli.js';

const ringFile = fileURLToPath(new URL('../../topologies/ring.yaml', import.meta.url));

async function ring(): Promise<ResolvedTopology> {
  const r = await loadTopology(ringFile);
  if (!r.ok) throw new Error('ring.yaml is invalid');
  return r.topology;
}

async function render(extra: Partial<RenderOptions> = {}): Promise<K8sObject[]> {
  const t = await ring();
  return renderK8s(t, {
    image: 'registry.example/topo-runner:1', secret: '00'.repeat(32), epoch: 7, seed: labSeed(t),
    source: await readFile(ringFile, 'utf8'), ...extra,
  });
}

/** The schema validator of each kind rendered; throws on an object the API server would reject. */
function validate(o: K8sObject): void {
  const model = { ConfigMap, Secret, Service, Deployment }[o.kind as 'ConfigMap'];
  if (model === undefined) throw new Error(`no validator for ${o.kind}`);
  new model(o as never).validate();
}

const topologyOf = (yaml: string): ResolvedTopology => {
  const r = validateText(yaml, '/tmp/t.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  return r.topology;
};

describe('topo k8s render', () => {
  it('renders the ring as golden manifests (Services) that pass the Kubernetes schemas', async () => {
    const objs = await render({ namespace: 'labs' });
    expect(objs.map((o) => o.kind)).toEqual(['ConfigMap', 'Secret', ...Array(4).fill(['Deployment', 'Service']).flat()]);
    for (const o of objs) validate(o);
    await expect(toYaml(objs)).toMatchFileSnapshot('./golden/ring.yaml');
  });

  it('renders the ring with --host-network: no Services, each runner its own ports, golden and valid', async () => {
    const objs = await render({ hostNetwork: true });
    expect(objs.map((o) => o.kind)).toEqual(['ConfigMap', 'Secret', 'Deployment', 'Deployment', 'Deployment', 'Deployment']);
    for (const o of objs) validate(o);
    // Every runner binds its own control, health and link ports on the one host network.
    const deploys = objs.filter((o) => o.kind === 'Deployment').map((o) => JSON.stringify(o));
    const ports = deploys.flatMap((d) => [...d.matchAll(/"--(?:control|health)-port","(\d+)"|=listen:(\d+)/g)].map((m) => m[1] ?? m[2]));
    expect(ports.length).toBe(4 * 2 + 4);
    expect(new Set(ports).size).toBe(ports.length);
    // No port list: podman refuses port mappings on the host network, and the host's ports need none.
    for (const d of deploys) expect(d).not.toContain('containerPort');
    await expect(toYaml(objs)).toMatchFileSnapshot('./golden/ring-host-network.yaml');
  });

  it('names every secret volume optional: false (podman 4.3 kube play crashes on a secret volume without it)', async () => {
    const volumes = (await render({ hostNetwork: true })).filter((o) => o.kind === 'Deployment')
      .flatMap((o) => (o as unknown as { spec: { template: { spec: { volumes: { secret?: { optional?: boolean } }[] } } } }).spec.template.spec.volumes)
      .filter((v) => v.secret !== undefined);
    expect(volumes).toHaveLength(4);
    for (const v of volumes) expect(v.secret!.optional).toBe(false);
  });

  it('the validator used above rejects a broken object (so a passing check means something)', async () => {
    const [, , deploy] = await render();
    const broken = structuredClone(deploy!) as unknown as { spec: { template: { spec: { containers: { ports: { containerPort: unknown }[] }[] } } } };
    broken.spec.template.spec.containers[0]!.ports[0]!.containerPort = 'sixteen thousand';
    expect(() => validate(broken as never)).toThrow();
  });

  it('points TOPO_LAYER_DIR at the /tmp emptyDir: packages: layers are built there, not in the read-only guest cache', async () => {
    for (const o of (await render({ hostNetwork: true })).filter((x) => x.kind === 'Deployment')) {
      const pod = (o as unknown as { spec: { template: { spec: { containers: { env: { name: string; value: string }[]; volumeMounts: { name: string; mountPath: string }[] }[]; volumes: { name: string; emptyDir?: object }[] } } } }).spec.template.spec;
      const c = pod.containers[0]!;
      expect(c.env).toContainEqual({ name: 'TOPO_LAYER_DIR', value: '/tmp/topo-layers' });
      const tmp = c.volumeMounts.find((m) => m.mountPath === '/tmp')!;
      expect(pod.volumes.find((v) => v.name === tmp.name)?.emptyDir).toEqual({});
    }
  });

  it('asks for no privileges, and /dev/kvm only with --kvm', async () => {
    const plain = JSON.stringify(await render());
    expect(plain).not.toContain('/dev/kvm');
    expect(plain).not.toMatch(/"privileged":true|"add":/);
    const kvm = await render({ kvm: true });
    for (const o of kvm) validate(o);
    expect(JSON.stringify(kvm)).toContain('"hostPath":{"path":"/dev/kvm","type":"CharDevice"}');
  });

  it('refuses shares: with a one-line message naming the node', async () => {
    const t = await ring();
    const withShares = { ...t, nodes: t.nodes.map((n, i) => (i === 1 ? { ...n, shares: [{ host: '/srv', guest: '/mnt', writable: false }] } : n)) };
    let err: unknown;
    try {
      renderK8s(withShares, { image: 'i', secret: 's', epoch: 1, seed: 1, source: '' });
    } catch (e) {
      err = e;
    }
    expect(isTopoError(err) && err.oneLine()).toMatch(new RegExp(`^${t.file}: error: n2: shares: cannot run in a pod .*drop shares:`));
  });

  it('a segment lives in its lowest-sorted member: the others dial it; p2p: the lower-sorted node dials', () => {
    const t = topologyOf([
      'name: mix', 'nodes: {a: {}, b: {}, c: {}}', 'links:',
      '  - endpoints: [c:eth1, a:eth1, b:eth1]', '  - endpoints: [c, b]',
    ].join('\n'));
    expect(tcpConnections(t).map((c) => `${c.link} ${c.dialer.node}->${c.listener.node}:${c.port}`))
      .toEqual(['l1 b->a:17000', 'l1 c->a:17001', 'l2 b->c:17002']);
  });

  it('the CLI prints multi-document YAML with a fresh secret each run; a bad namespace is one line, exit 2', async () => {
    const [a, b] = await Promise.all([topo(['k8s', 'render', ringFile]), topo(['k8s', 'render', ringFile])]);
    expect(a.exitCode).toBe(0);
    const docs = parseAllDocuments(a.stdout).map((d) => d.toJS() as K8sObject);
    expect(docs).toHaveLength(10);
    for (const o of docs) validate(o);
    const secretOf = (out: string) => /link-secret: ([0-9a-f]{64})/.exec(out)?.[1];
    expect(secretOf(a.stdout)).toBeDefined();
    expect(secretOf(a.stdout)).not.toBe(secretOf(b.stdout));
    const bad = await topo(['k8s', 'render', ringFile, '--namespace', 'Bad_NS']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('--namespace "Bad_NS" is not a Kubernetes namespace name');
  });
});
