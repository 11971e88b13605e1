// `topo k8s render FILE`: the lab as multi-document Kubernetes YAML on stdout (a fresh link secret each time).
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { TopoError } from '../errors.js';
import { renderK8s } from '../k8s/render.js';
import { labSeed } from '../runtime/lab.js';
import { validTopology } from './validate.js';

export interface K8sRenderFlags {
  image?: string;
  namespace?: string;
  hostNetwork?: boolean;
  kvm?: boolean;
}

export const DEFAULT_IMAGE = 'localhost/topo-runner:latest';

export async function k8sRenderCommand(file: string, flags: K8sRenderFlags): Promise<number> {
  if (flags.namespace !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(flags.namespace)) {
    throw new TopoError(`--namespace ${JSON.stringify(flags.namespace)} is not a Kubernetes namespace name`, {
      code: 'E_USAGE', hint: 'lowercase letters, digits and "-", at most 63 characters',
    });
  }
  const t = await validTopology(file);
  if (typeof t === 'number') return t;
  const objects = renderK8s(t, {
    image: flags.image ?? DEFAULT_IMAGE,
    namespace: flags.namespace,
    hostNetwork: flags.hostNetwork === true,
    kvm: flags.kvm === true,
    secret: randomBytes(32).toString('hex'),
    epoch: Math.floor(Date.now() / 1000),
    source: await readFile(t.file, 'utf8'),
    seed: labSeed(t),
  });
  process.stdout.write(toYaml(objects));
  return 0;
}

/** Multi-document YAML, one object per document, long lines never folded. */
export function toYaml(objects: readonly unknown[]): string {
  return objects.map((o) => `---\n${stringify(o, { lineWidth: 0 })}`).join('');
}
