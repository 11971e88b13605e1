// `topo k8s render FILE`: the lab as multi-document Kubernetes YAML on stdout (a fresh link secret each time).
import { randomBytes } from 'node:crypto';
import { lstat, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { TopoError } from '../errors.js';
import { labFileText } from '../control/lab-file.js';
import { labFileDoc, renderK8s } from '../k8s/render.js';
import { labSeed } from '../runtime/lab.js';
import { validTopology } from './validate.js';

export interface K8sRenderFlags {
  image?: string;
  namespace?: string;
  hostNetwork?: boolean;
  kvm?: boolean;
  /** Also write the lab file (control addresses and the secret) here, mode 0600. */
  labFile?: string;
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
  const opts = {
    image: flags.image ?? DEFAULT_IMAGE,
    namespace: flags.namespace,
    hostNetwork: flags.hostNetwork === true,
    kvm: flags.kvm === true,
    secret: randomBytes(32).toString('hex'),
    epoch: Math.floor(Date.now() / 1000),
    source: await readFile(t.file, 'utf8'),
    seed: labSeed(t),
  };
  const objects = renderK8s(t, opts);
  // Written first: manifests on stdout without their lab file would be a lab nobody can reach.
  if (flags.labFile !== undefined) await writePrivate(flags.labFile, labFileText(labFileDoc(t, opts, { secret: opts.secret })));
  process.stdout.write(toYaml(objects));
  return 0;
}

/** Write `text` to `file` readable by us alone; never through a symbolic link someone put there. */
export async function writePrivate(file: string, text: string): Promise<void> {
  const st = await lstat(file).catch(() => undefined);
  if (st?.isSymbolicLink()) throw new TopoError(`--lab-file ${file} is a symbolic link: refusing to write the lab secret through it`, { code: 'E_USAGE', hint: 'name a plain file' });
  if (st && !st.isFile()) throw new TopoError(`--lab-file ${file} exists and is not a file`, { code: 'E_USAGE' });
  // A fresh file (O_EXCL, 0600) renamed over the target: nobody can read the secret in between or swap in a link.
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}`);
  const fh = await open(tmp, 'wx', 0o600).catch((err: NodeJS.ErrnoException) => {
    throw new TopoError(`cannot write --lab-file ${file} (${err.code ?? err.message})`, { code: 'E_USAGE' });
  });
  try {
    await fh.writeFile(text);
    await fh.chmod(0o600);
  } finally {
    await fh.close();
  }
  await rename(tmp, file).catch(async (err: NodeJS.ErrnoException) => {
    await rm(tmp, { force: true });
    throw new TopoError(`cannot write --lab-file ${file} (${err.code ?? err.message})`, { code: 'E_USAGE' });
  });
}

/** Multi-document YAML, one object per document, long lines never folded. */
export function toYaml(objects: readonly unknown[]): string {
  return objects.map((o) => `---\n${stringify(o, { lineWidth: 0 })}`).join('');
}
