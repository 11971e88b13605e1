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
 * (Two more podman 4.3 traps are handled by `topo k8s render` itself: `--host-network` lists no container ports
 * and probes name theirs by number, since podman refuses port mappings on the host network; emptyDirs are named per
 * node, since podman shares an emptyDir by name across all pods of one play.)
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
    for (const v of (spec.volumes ?? []) as Spec[]) {
      if (v.secret) {
        const secret = secrets.get(v.secret.secretName);
        if (!secret) throw new Error(`secret volume ${v.name}: no Secret ${v.secret.secretName} in the manifests`);
        const dir = path.join(secretDir, pod, v.name);
        await writeSecret(dir, secret, v.secret.defaultMode ?? 0o644, group);
        delete v.secret;
        v.hostPath = { path: dir, type: 'Directory' };
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
