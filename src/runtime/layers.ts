// The package layers of a lab: one per distinct package list among its default-guest nodes, built or
// found before any VM starts, referenced until the lab is torn down.
import { TopoError } from '../errors.js';
import { UnknownPackageError } from '../guest/apt-closure.js';
import { ensureLayer, ensurePinnedLayer, normaliseRequest, type LayerHandle } from '../guest/layer.js';
import type { ResolvedPackage } from '../guest/apt-closure.js';
import { locateListItem } from '../topology/locate.js';
import type { ResolvedNode, ResolvedTopology } from '../topology/model.js';

export interface LabLayers {
  readonly byNode: ReadonlyMap<string, LayerHandle>;
  release(): Promise<void>;
}

export interface PrepareLayersOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (m: string) => void;
  readonly onNotice?: (m: string) => void;
  /** Exact package sets by node (a replayed bundle's packages.lock.json): used as they are, never resolved again. */
  readonly pins?: ReadonlyMap<string, readonly ResolvedPackage[]>;
}

export async function prepareLayers(topology: ResolvedTopology, usesDefaultGuest: (n: ResolvedNode) => boolean, opts: PrepareLayersOptions = {}): Promise<LabLayers> {
  const groups = new Map<string, ResolvedNode[]>();
  for (const node of topology.nodes) {
    if (!node.packages || node.packages.length === 0 || !usesDefaultGuest(node)) continue;
    const pinned = opts.pins?.get(node.name);
    // Nodes pinned to other versions of the same list get a layer of their own.
    const key = `${normaliseRequest(node.packages).join(' ')}${pinned ? ` @${JSON.stringify(pinned)}` : ''}`;
    groups.set(key, [...(groups.get(key) ?? []), node]);
  }
  const byNode = new Map<string, LayerHandle>();
  const handles: LayerHandle[] = [];
  const release = async () => {
    for (const h of handles.splice(0)) await h.release().catch(() => undefined);
  };
  try {
    for (const nodes of groups.values()) {
      const pinned = opts.pins?.get(nodes[0]!.name);
      const h = await (pinned ? ensurePinnedLayer(nodes[0]!.packages!, pinned, opts) : ensureLayer(nodes[0]!.packages!, opts)).catch((err: unknown) => located(err, topology, nodes));
      handles.push(h);
      for (const n of nodes) byNode.set(n.name, h);
    }
  } catch (err) {
    await release();
    throw err;
  }
  return { byNode, release };
}

/** An unknown package gets the file's line:col of where it is written; other errors name the nodes. */
async function located(err: unknown, topology: ResolvedTopology, nodes: readonly ResolvedNode[]): Promise<never> {
  if (err instanceof UnknownPackageError) {
    const names = nodes.map((n) => n.name);
    const pos = await locateListItem(topology.file, 'packages', err.spec, names);
    throw new TopoError(err.message, { code: err.code, file: topology.file, line: pos?.line, column: pos?.column, hint: err.hint, stderrTail: err.stderrTail, stderrSource: 'apt-get', cause: err });
  }
  throw err;
}
