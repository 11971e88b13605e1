// `topo k8s render`: the resolved model as Kubernetes objects, a pure function (the secret and epoch are inputs).
// Per node a Deployment whose one container runs `topo node FILE NODE ...` and a Service its peers dial;
// the topology in a ConfigMap, the per-lab link secret in a Secret. No privileges; /dev/kvm only when asked.

import { createHash } from 'node:crypto';
import { TopoError } from '../errors.js';
import type { ResolvedNode, ResolvedTopology } from '../topology/model.js';
import { labFileText, type LabFileDoc } from '../control/lab-file.js';
import { CONTROL_PORT_BASE, HEALTH_PORT_BASE, LINK_PORT_BASE, linkArgs, tcpConnections } from './plan.js';

export interface RenderOptions {
  image: string;
  namespace?: string;
  /** Every runner on the host's network with its own ports; peers are reached on 127.0.0.1 (engines without Services). */
  hostNetwork?: boolean;
  /** Mount the host's /dev/kvm (hostPath) and use KVM; otherwise TCG. */
  kvm?: boolean;
  /** The per-lab link secret, hex. */
  secret: string;
  /** The lab's incarnation: runners of another epoch refuse each other. */
  epoch: number;
  /** The topology file's text, shipped in the ConfigMap so every runner parses the same file. */
  source: string;
  seed: number;
}

export type K8sObject = Record<string, unknown> & { apiVersion: string; kind: string; metadata: Record<string, unknown> };

export const TOPOLOGY_DIR = '/etc/topo';
const SECRET_DIR = '/etc/topo-secret';
const SECRET_KEY = 'link-secret';
/** The lab file in the ConfigMap: `kubectl exec deploy/... -- topo ps --lab-file /etc/topo/lab.json`. */
export const LAB_FILE_PATH = `${TOPOLOGY_DIR}/lab.json`;
/** Where a runner builds its node's packages: layer (the /tmp emptyDir: writable, kept across container restarts). */
export const LAYER_DIR = '/tmp/topo-layers';
/** What a runner needs besides its guest's memory: QEMU's own (~20 MiB under TCG), Node and the relays. */
const RUNNER_OVERHEAD_MIB = 256;

/** A DNS-1035 label (Service names): at most 63 characters, a hash keeps long ones unique. */
export function dnsLabel(...parts: string[]): string {
  const name = parts.join('-');
  if (name.length <= 63) return name;
  const h = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, 54).replace(/-+$/, '')}-${h}`;
}

/** Fields a pod cannot honour, refused with one line each (the first one found). */
function refuse(t: ResolvedTopology, n: ResolvedNode): void {
  const shares = n.shares;
  if (shares !== undefined && (!Array.isArray(shares) || shares.length > 0)) {
    throw new TopoError(`shares: cannot run in a pod (a host directory is not there); ` +
      'put the files in a packages: layer or the image, or drop shares: for this lab', { code: 'K8S_UNSUPPORTED', node: n.name, file: t.file });
  }
  const hostFiles = [
    ['kernel', n.kernel], ['initrd', n.initrd], ['disk', n.disk], ['firmware', n.firmware?.code], ['tpm.state', n.tpm?.state],
    ...n.fwCfg.map((e) => ['fw_cfg', 'file' in e ? e.file : undefined] as const),
  ] as const;
  for (const [field, path] of hostFiles) {
    if (path === undefined) continue;
    throw new TopoError(`${field}: ${path} is a file on this host, not in the runner's pod; ` +
      'only default-guest nodes can be rendered for now', { code: 'K8S_UNSUPPORTED', node: n.name, file: t.file });
  }
}

export function renderK8s(t: ResolvedTopology, opts: RenderOptions): K8sObject[] {
  for (const n of t.nodes) refuse(t, n);
  const lab = t.name;
  const ns = opts.namespace === undefined ? {} : { namespace: opts.namespace };
  const labels = (node?: string) => ({
    'app.kubernetes.io/name': 'topo', 'app.kubernetes.io/instance': lab, ...(node === undefined ? {} : { 'topo.dev/node': node }),
  });
  const configName = dnsLabel('topo', lab);
  const secretName = dnsLabel('topo', lab, 'link');
  const serviceOf = (node: string) => dnsLabel('topo', lab, node);
  const conns = tcpConnections(t);
  const nodeIndex = new Map(t.nodes.map((n, i) => [n.name, i]));
  const port = (base: number, node: string) => (opts.hostNetwork ? base + nodeIndex.get(node)! : base);
  const hostOf = (node: string) => (opts.hostNetwork ? '127.0.0.1' : serviceOf(node));

  const objects: K8sObject[] = [
    {
      apiVersion: 'v1', kind: 'ConfigMap',
      metadata: { name: configName, ...ns, labels: labels() },
      data: {
        'topology.yaml': opts.source,
        'resolved.json': `${JSON.stringify(resolvedForPods(t, opts), null, 2)}\n`,
        // The secret stays in the Secret: the lab file names where it is mounted.
        'lab.json': labFileText(labFileDoc(t, opts, { secretFile: `${SECRET_DIR}/${SECRET_KEY}` })),
      },
    },
    {
      apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
      metadata: { name: secretName, ...ns, labels: labels() },
      stringData: { [SECRET_KEY]: opts.secret },
    },
  ];

  for (const n of t.nodes) {
    const listens = conns.filter((c) => c.listener.node === n.name);
    const control = port(CONTROL_PORT_BASE, n.name);
    const health = port(HEALTH_PORT_BASE, n.name);
    const command = [
      'topo', 'node', `${TOPOLOGY_DIR}/topology.yaml`, n.name,
      '--resolved', `${TOPOLOGY_DIR}/resolved.json`,
      '--secret-file', `${SECRET_DIR}/${SECRET_KEY}`,
      '--epoch', String(opts.epoch),
      '--listen', opts.hostNetwork ? '127.0.0.1' : '0.0.0.0',
      '--control-port', String(control),
      '--health-port', String(health),
      ...linkArgs(n.name, conns, hostOf),
    ];
    const ports = [
      { name: 'control', containerPort: control, protocol: 'TCP' },
      { name: 'health', containerPort: health, protocol: 'TCP' },
      ...listens.map((c) => ({ name: `link-${c.port - LINK_PORT_BASE}`, containerPort: c.port, protocol: 'TCP' })),
    ];
    const memory = `${n.memoryMiB + RUNNER_OVERHEAD_MIB}Mi`;
    const volumes: Record<string, unknown>[] = [
      { name: 'topology', configMap: { name: configName } },
      // optional: false is Kubernetes' default, spelled out: podman 4.3's kube play crashes on a secret volume without it.
      { name: 'link-secret', secret: { secretName, defaultMode: 0o440, optional: false } },
      // Named per node: podman kube play shares an emptyDir by name across all pods of one play.
      { name: dnsLabel('run', n.name), emptyDir: {} },
      { name: dnsLabel('tmp', n.name), emptyDir: {} },
      ...(opts.kvm ? [{ name: 'kvm', hostPath: { path: '/dev/kvm', type: 'CharDevice' } }] : []),
    ];
    const mounts: Record<string, unknown>[] = [
      { name: 'topology', mountPath: TOPOLOGY_DIR, readOnly: true },
      { name: 'link-secret', mountPath: SECRET_DIR, readOnly: true },
      { name: dnsLabel('run', n.name), mountPath: '/run/topo' },
      { name: dnsLabel('tmp', n.name), mountPath: '/tmp' },
      ...(opts.kvm ? [{ name: 'kvm', mountPath: '/dev/kvm' }] : []),
    ];
    objects.push({
      apiVersion: 'apps/v1', kind: 'Deployment',
      metadata: { name: serviceOf(n.name), ...ns, labels: labels(n.name) },
      spec: {
        replicas: 1,
        // Never two runners of one node at once: the old pod's QEMU would still own the link ends.
        strategy: { type: 'Recreate' },
        selector: { matchLabels: labels(n.name) },
        template: {
          metadata: { labels: labels(n.name) },
          spec: {
            ...(opts.hostNetwork ? { hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' } : {}),
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [{
              name: 'node', image: opts.image, imagePullPolicy: 'IfNotPresent', command,
              // Host network: the ports are the host's already (podman refuses port mappings there).
              ...(opts.hostNetwork ? {} : { ports }),
              env: [
                { name: 'TOPO_ACCEL', value: opts.kvm ? 'kvm' : 'tcg' },
                { name: 'TOPO_RUN_DIR', value: '/run/topo' },
                // The image's guest cache is read-only: packages: layers are built in the pod's /tmp emptyDir.
                { name: 'TOPO_LAYER_DIR', value: LAYER_DIR },
              ],
              resources: {
                requests: { cpu: String(n.cpus), memory },
                limits: { memory },
              },
              // Ready means: the guest reported ready and every link end of this node is connected.
              readinessProbe: { httpGet: { path: '/ready', port: health }, periodSeconds: 2, failureThreshold: 3 },
              // Alive means the runner answers; a dead QEMU is the runner's to report (it exits, the pod restarts).
              livenessProbe: { httpGet: { path: '/alive', port: health }, initialDelaySeconds: 10, periodSeconds: 10 },
              securityContext: { allowPrivilegeEscalation: false, privileged: false, capabilities: { drop: ['ALL'] } },
              volumeMounts: mounts,
            }],
            volumes,
          },
        },
      },
    });
    if (opts.hostNetwork) continue;
    objects.push({
      apiVersion: 'v1', kind: 'Service',
      metadata: { name: serviceOf(n.name), ...ns, labels: labels(n.name) },
      spec: {
        selector: labels(n.name),
        // Peers dial a runner before it is ready (readiness waits for its links): publish it at once.
        publishNotReadyAddresses: true,
        ports: ports.map((p) => ({ name: p.name, port: p.containerPort, targetPort: p.name, protocol: 'TCP' })),
      },
    });
  }
  return objects;
}

/** The lab file of the rendered lab: each node's control address as its peers reach it (Service, or 127.0.0.1 on the host network). */
export function labFileDoc(t: ResolvedTopology, opts: Pick<RenderOptions, 'hostNetwork' | 'epoch'>, secret: { secret: string } | { secretFile: string }): Omit<LabFileDoc, 'topo' | 'version'> {
  const nodes = Object.fromEntries(t.nodes.map((n, i) => [n.name, {
    control: opts.hostNetwork ? `127.0.0.1:${CONTROL_PORT_BASE + i}` : `${dnsLabel('topo', t.name, n.name)}:${CONTROL_PORT_BASE}`,
  }]));
  return { lab: t.name, epoch: opts.epoch, ...secret, nodes };
}

/** The resolved model as runners read it: IDs, MACs and the seed fixed once, paths as mounted in the pod. */
function resolvedForPods(t: ResolvedTopology, opts: RenderOptions): unknown {
  return { ...t, file: `${TOPOLOGY_DIR}/topology.yaml`, dir: TOPOLOGY_DIR, seed: opts.seed, epoch: opts.epoch };
}
