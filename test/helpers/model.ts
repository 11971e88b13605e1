// Hand-built resolved models for tests of later phases (plan, runtime) that must not depend on the loader.
import type { ResolvedInterface, ResolvedNode, ResolvedTopology } from '../../src/topology/model.js';

export function node(name: string, over: Partial<ResolvedNode> = {}): ResolvedNode {
  return {
    name,
    kind: 'microvm',
    cpus: 1,
    memoryMiB: 192,
    console: 'serial',
    fwCfg: [],
    allowReboot: false,
    hostNetwork: false,
    ports: [],
    ready: {},
    run: [],
    dependsOn: [],
    restart: 'never',
    persist: false,
    interfaces: [],
    ...over,
  };
}

export function iface(name: string, over: Partial<ResolvedInterface> = {}): ResolvedInterface {
  const index = Number(name.slice(3));
  return { name, index, mac: `02:00:00:00:00:${index.toString(16).padStart(2, '0')}`, kind: 'link', mtu: 1500, addresses: [], ...over };
}

export function topology(nodes: ResolvedNode[], over: Partial<ResolvedTopology> = {}): ResolvedTopology {
  return { name: 'test', file: '/tmp/test.yaml', dir: '/tmp', nodes, links: [], ...over };
}
