import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTopology } from '../../src/topology/index.js';

const examples = readdirSync('topologies').filter((f) => f.endsWith('.yaml'));

describe('shipped examples', () => {
  it('include the documented set', () => {
    expect(examples.sort()).toEqual(['frr-ospf.yaml', 'iperf.yaml', 'lan.yaml', 'pair.yaml', 'pmtu.yaml', 'ring.yaml', 'triangle.yaml', 'uefi.yaml', 'wan.yaml']);
  });

  it.each(examples)('%s validates and carries the schema modeline', async (name) => {
    const file = path.join('topologies', name);
    expect(readFileSync(file, 'utf8').split('\n')[0]).toBe('# yaml-language-server: $schema=../schemas/topology.schema.json');
    const res = await loadTopology(file);
    expect(res.diagnostics).toEqual([]);
    expect(res.ok).toBe(true);
  });

  it('triangle is the README quick start: three p2p links on distinct subnets', async () => {
    const res = await loadTopology('topologies/triangle.yaml');
    if (!res.ok) throw new Error('invalid');
    const t = res.topology;
    expect(t.nodes.map((n) => n.name)).toEqual(['r1', 'r2', 'r3']);
    expect(t.nodes.every((n) => n.memoryMiB <= 256 && n.kernel === undefined)).toBe(true);
    expect(t.links.map((l) => l.kind)).toEqual(['p2p', 'p2p', 'p2p']);
    expect(new Set(t.links.map((l) => l.endpoints[0]?.address?.split('.').slice(0, 3).join('.'))).size).toBe(3);
  });

  it('lan is one segment and wan carries an impairment', async () => {
    const lan = await loadTopology('topologies/lan.yaml');
    const wan = await loadTopology('topologies/wan.yaml');
    expect(lan.ok && lan.topology.links[0]?.kind).toBe('segment');
    expect(wan.ok && wan.topology.links[0]?.impair).toMatchObject({ delayMs: 40, jitterMs: 5, lossPct: 0.5, rateBps: 20_000_000 });
  });
});
