import { alg } from '@dagrejs/graphlib';
import { describe, expect, it } from 'vitest';
import { isTopoError } from '../../src/errors.js';
import { bootLevels, bootOrder, dependencyGraph, segmentId, toDot, toJson, toMermaid, wiringGraph } from '../../src/topology/graph.js';
import type { ResolvedTopology } from '../../src/topology/model.js';
import { resolved } from './helpers.js';

const t = resolved(`
  name: lab
  nodes:
    r1: {}
    r2: { depends_on: [r1] }
    r3: { kind: uefi, disk: d.img, depends_on: [r2] }
    end: {}
  links:
    - endpoints: [r1:eth1, r2:eth1]
      addresses: [10.0.12.1/24, 10.0.12.2/24]
      impair: { delay: 40ms, rate: 20mbit }
    - endpoints: [r1, r2]
    - endpoints: [r1, r3, end]
      capture: true
`);

describe('wiring graph', () => {
  it('has a vertex per node and per segment, an edge per p2p link and per segment member', () => {
    const g = wiringGraph(t);
    expect(g.isMultigraph()).toBe(true);
    expect(g.nodes().sort()).toEqual(['end', 'r1', 'r2', 'r3', 'seg:l3'].sort());
    expect(g.node('r3')).toEqual({ type: 'node', kind: 'uefi' });
    expect(g.node(segmentId('l3'))).toEqual({ type: 'segment', link: 'l3' });
    expect(g.edgeCount()).toBe(5);
    expect(g.edge('r1', 'r2', 'l1')).toEqual({ link: 'l1', v: { iface: 'eth1', address: '10.0.12.1/24' }, w: { iface: 'eth1', address: '10.0.12.2/24' } });
    expect(g.hasEdge('r1', 'r2', 'l2')).toBe(true);
    expect(g.hasEdge('r3', 'seg:l3', 'l3:r3')).toBe(true);
  });

  it('has a dependency DAG', () => {
    const d = dependencyGraph(t);
    expect(d.isDirected()).toBe(true);
    expect(d.successors('r3')).toEqual(['r2']);
    expect(alg.isAcyclic(d)).toBe(true);
    expect(alg.topsort(d).reverse().indexOf('r1')).toBeLessThan(alg.topsort(d).reverse().indexOf('r3'));
  });
});

describe('boot levels', () => {
  const diamond = resolved(`
    name: lab
    nodes:
      app: { depends_on: [db, cache] }
      db: { depends_on: [dns] }
      cache: { depends_on: [dns] }
      dns: {}
      lone: {}
      edge: { depends_on: [app, dns] }
  `);

  it('groups nodes so each level depends only on earlier ones, file order within a level', () => {
    expect(bootLevels(diamond)).toEqual([['dns', 'lone'], ['db', 'cache'], ['app'], ['edge']]);
    expect(bootOrder(diamond)).toEqual(['dns', 'lone', 'db', 'cache', 'app', 'edge']);
  });

  it('puts every node at level 0 without depends_on', () => {
    expect(bootLevels(resolved('name: lab\nnodes: { b: {}, a: {} }\n'))).toEqual([['b', 'a']]);
  });

  it('a node is one level past its deepest dependency, not its first', () => {
    const levels = bootLevels(diamond);
    const level = (n: string) => levels.findIndex((l) => l.includes(n));
    for (const n of diamond.nodes) for (const d of n.dependsOn) expect(level(d)).toBeLessThan(level(n.name));
  });

  it('refuses a cyclic model built by hand with a TopoError', () => {
    const nodes = diamond.nodes.map((n) => (n.name === 'dns' ? { ...n, dependsOn: ['edge'] } : n));
    const cyclic: ResolvedTopology = { ...diamond, nodes };
    let err: unknown;
    try {
      bootLevels(cyclic);
    } catch (e) {
      err = e;
    }
    expect(isTopoError(err) && err.code).toBe('E_DEP_CYCLE');
  });
});

describe('renderers', () => {
  it('DOT', () => {
    expect(toDot(t)).toBe(
      [
        'graph "lab" {',
        '  node [shape=box];',
        '  "r1" [label="r1\\nmicrovm"];',
        '  "r2" [label="r2\\nmicrovm"];',
        '  "r3" [label="r3\\nuefi"];',
        '  "end" [label="end\\nmicrovm"];',
        '  "seg:l3" [shape=ellipse, label="l3 (pcap)"];',
        '  "r1" -- "r2" [label="l1 (delay 40ms, rate 20mbit)", taillabel="eth1 10.0.12.1/24", headlabel="eth1 10.0.12.2/24"];',
        '  "r1" -- "r2" [label="l2", taillabel="eth2", headlabel="eth2"];',
        '  "r1" -- "seg:l3" [taillabel="eth3"];',
        '  "r3" -- "seg:l3" [taillabel="eth1"];',
        '  "end" -- "seg:l3" [taillabel="eth1"];',
        '  "r2" -- "r1" [style=dashed, dir=forward, label="depends on"];',
        '  "r3" -- "r2" [style=dashed, dir=forward, label="depends on"];',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('Mermaid, with ids that dodge keywords', () => {
    const m = toMermaid(t);
    expect(m.split('\n')[0]).toBe('graph LR');
    expect(m).toContain('  n_end["end (microvm)"]');
    expect(m).toContain('  seg_l3(("l3 (pcap)"))');
    expect(m).toContain('  n_r1 ---|"l1: eth1 10.0.12.1/24 — eth1 10.0.12.2/24 (delay 40ms, rate 20mbit)"| n_r2');
    expect(m).toContain('  n_end ---|"eth1"| seg_l3');
    expect(m).toContain('  n_r3 -.->|"depends on"| n_r2');
  });

  it('JSON', () => {
    const j = toJson(t);
    expect(Object.keys(j)).toEqual(['nodes', 'segments', 'links', 'bootLevels']);
    expect(j.bootLevels).toEqual([['r1', 'end'], ['r2'], ['r3']]);
    expect(j.nodes.map((n) => n.name)).toEqual(['r1', 'r2', 'r3', 'end']);
    expect(j.segments).toEqual([{ id: 'seg:l3', link: 'l3', members: [{ node: 'r1', iface: 'eth3' }, { node: 'r3', iface: 'eth1' }, { node: 'end', iface: 'eth1' }] }]);
    expect(j.links[0]).toMatchObject({ id: 'l1', kind: 'p2p', mtu: 1500, capture: false, impair: { delayMs: 40, rateBps: 20_000_000 } });
    expect(JSON.parse(JSON.stringify(j))).toEqual(j);
  });

  it('is deterministic', () => {
    expect(toDot(t)).toBe(toDot(t));
    expect(toMermaid(t)).toBe(toMermaid(t));
    expect(JSON.stringify(toJson(t))).toBe(JSON.stringify(toJson(t)));
  });
});
