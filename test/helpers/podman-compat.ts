// What `podman kube play` 4.3 (Debian 12's podman) needs changed in manifests that Kubernetes takes as they are.
// Each change names the podman behaviour it works around; the tests play manifests through this and nothing else.
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

type Spec = Record<string, any>;
export type Obj = { kind?: string; metadata?: { name?: string; labels?: Record<string, string> }; spec?: Spec; data?: Record<string, string>; stringData?: Record<string, string> };

export function podSpec(o: Obj): Spec | undefined {
  if (o.kind === 'Pod') return o.spec;
  if (o.kind === 'Deployment') return o.spec?.template?.spec;
  return undefined;
}

/**
 * The objects as podman 4.3 plays them right; `secretDir` receives the Secrets' files.
 * - Secrets: a secret volume without `optional` panics kube play (nil pointer in VolumeFromSecret); with it,
 *   `stringData` keys are not written at all, `data` values are written still base64-encoded and `defaultMode`
 *   is ignored. Each Secret becomes a hostPath directory holding its decoded keys (0440, group = fsGroup).
 * - hostNetwork: every containerPort becomes a host port mapping, which host networking refuses ("PortMappings
 *   can only be used with Bridge or slirp4netns networking"): ports are dropped, probes name theirs by number.
 * - emptyDir: one named volume per volume *name*, shared by every pod of the play (four runners would share
 *   /run/topo): each pod's emptyDirs are renamed <pod>-<volume>.
 */
export async function forPodman43(objects: Obj[], secretDir: string): Promise<Obj[]> {
  const secrets = new Map(objects.filter((o) => o.kind === 'Secret').map((o) => [o.metadata!.name!, o]));
  const out: Obj[] = [];
  for (const original of objects) {
    if (original.kind === 'Secret') continue;
    const o = structuredClone(original);
    out.push(o);
    const spec = podSpec(o);
    if (!spec) continue;
    const pod = o.metadata!.name!;
    const group = spec.securityContext?.fsGroup ?? spec.securityContext?.runAsGroup ?? 0;
    const renamed = new Map<string, string>();
    for (const v of (spec.volumes ?? []) as Spec[]) {
      if (v.emptyDir) {
        renamed.set(v.name, `${pod}-${v.name}`);
        v.name = `${pod}-${v.name}`;
      }
      if (v.secret) {
        const secret = secrets.get(v.secret.secretName);
        if (!secret) throw new Error(`secret volume ${v.name}: no Secret ${v.secret.secretName} in the manifests`);
        const dir = path.join(secretDir, pod, v.name);
        await writeSecret(dir, secret, v.secret.defaultMode ?? 0o644, group);
        delete v.secret;
        v.hostPath = { path: dir, type: 'Directory' };
      }
    }
    for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])] as Spec[]) {
      for (const m of (c.volumeMounts ?? []) as Spec[]) m.name = renamed.get(m.name) ?? m.name;
      if (!spec.hostNetwork) continue;
      const ports = new Map(((c.ports ?? []) as Spec[]).map((p) => [p.name, p.containerPort]));
      delete c.ports;
      for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) {
        const action = probe?.httpGet ?? probe?.tcpSocket;
        if (action && typeof action.port === 'string') action.port = ports.get(action.port);
      }
    }
  }
  return out;
}

async function writeSecret(dir: string, secret: Obj, mode: number, group: number): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o750 });
  await chown(dir, 0, group);
  await chmod(dir, 0o750);
  const entries = [
    ...Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')] as const),
    ...Object.entries(secret.stringData ?? {}).map(([k, v]) => [k, Buffer.from(v)] as const),
  ];
  for (const [key, value] of entries) {
    const file = path.join(dir, key);
    await writeFile(file, value);
    await chown(file, 0, group);
    await chmod(file, mode);
  }
}
