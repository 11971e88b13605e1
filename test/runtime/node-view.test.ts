// What one runner sees of a spread lab: its node, its links (a joined segment as a cable to its host), and which
// impairment directions it applies: each direction by exactly one runner.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTopology } from '../../src/topology/index.js';
import type { ResolvedTopology } from '../../src/topology/model.js';
import { linkHost, nodeView } from '../../src/runtime/node-view.js';
import { linkArgs, parseLinkArg, tcpConnections } from '../../src/k8s/plan.js';
import { repoRoot } from '../helpers/cli.js';

async function load(name: string): Promise<ResolvedTopology> {
  const r = await loadTopology(path.join(repoRoot, 'topologies', name));
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  return r.topology;
}

/** Every (link, towards-endpoint) pair and the runners that apply it. */
function owners(t: ResolvedTopology): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const n of t.nodes) {
    const v = nodeView(t, n.name);
    for (const l of t.links) {
      l.endpoints.forEach((e, i) => {
        // Indices in a runner's view differ for a joined segment: look the endpoint up there.
        const vl = v.topology.links.find((x) => x.id === l.id);
        const vi = vl?.endpoints.findIndex((x) => x.node === e.node && x.iface === e.iface) ?? -1;
        if (vi >= 0 && v.owns(l.id, vi)) out.set(`${l.id}>${e.node}:${e.iface}`, [...(out.get(`${l.id}>${e.node}:${e.iface}`) ?? []), n.name]);
      });
    }
  }
  return out;
}

describe('nodeView', () => {
  it('keeps one node and the links touching it, endpoints unchanged', async () => {
    const t = await load('ring.yaml');
    const v = nodeView(t, t.nodes[0]!.name);
    expect(v.topology.nodes.map((n) => n.name)).toEqual([t.nodes[0]!.name]);
    expect(v.topology.links.length).toBe(2);
    for (const l of v.topology.links) expect(l.endpoints).toEqual(t.links.find((x) => x.id === l.id)!.endpoints);
    expect(v.crossLinks).toEqual(v.topology.links.map((l) => l.id));
  });

  it('gives every impairment direction of a ring to exactly one runner: the sender\'s', async () => {
    const t = await load('ring.yaml');
    const o = owners(t);
    expect(o.size).toBe(t.links.length * 2);
    for (const [key, who] of o) {
      const [link, to] = key.split('>') as [string, string];
      const l = t.links.find((x) => x.id === link)!;
      const sender = l.endpoints.find((e) => `${e.node}:${e.iface}` !== to)!.node;
      expect(who, key).toEqual([sender]);
    }
  });

  it('hosts a segment in its lowest-sorted member; members see a cable to the host and own nothing', async () => {
    const t = await load('lan.yaml');
    const seg = t.links[0]!;
    expect(linkHost(seg).node).toBe('h1');
    const h2 = nodeView(t, 'h2');
    expect(h2.topology.links[0]!.endpoints.map((e) => `${e.node}:${e.iface}`)).toEqual(['h2:eth1', 'h1:eth1']);
    const o = owners(t);
    expect([...o.values()].every((w) => w.length === 1 && w[0] === 'h1')).toBe(true);
    expect(o.size).toBe(3);
    // The connections k8s render plans match the views: members dial the host.
    expect(tcpConnections(t).map((c) => `${c.dialer.node}>${c.listener.node}`)).toEqual(['h2>h1', 'h3>h1']);
  });

  it('refuses a node that is not in the file, naming the nodes', async () => {
    const t = await load('pair.yaml');
    expect(() => nodeView(t, 'zz')).toThrow(/no node "zz" in pair \(nodes: a, b\)/);
  });
});

describe('--link arguments', () => {
  it('parse back what linkArgs writes', async () => {
    const t = await load('ring.yaml');
    const conns = tcpConnections(t);
    for (const n of t.nodes) {
      const args = linkArgs(n.name, conns, (peer) => `topo-ring-${peer}`).filter((_, i) => i % 2 === 1);
      for (const a of args) {
        const p = parseLinkArg(a);
        expect(typeof p, a).toBe('object');
        if (typeof p === 'string') continue;
        expect(`${p.link}@${p.peer.node}:${p.peer.iface}=${p.role}:${p.host ? `${p.host}:` : ''}${p.port}`).toBe(a);
      }
    }
  });

  it('read /plain, IPv6 hosts, and refuse malformed ones with the expected shape', () => {
    expect(parseLinkArg('l1@b:eth1=listen:17000/plain')).toMatchObject({ role: 'listen', port: 17000, plain: true });
    expect(parseLinkArg('l1@b:eth1=dial:[::1]:17000')).toMatchObject({ role: 'dial', host: '::1', plain: false });
    expect(parseLinkArg('l1@b:eth1=dial:17000')).toMatch(/needs the peer's host/);
    expect(parseLinkArg('l1@b:eth1=listen:h:17000')).toMatch(/binds the address of --listen/);
    expect(parseLinkArg('l1@b:eth1=listen:70000')).toMatch(/out of range/);
    expect(parseLinkArg('l1=listen:1')).toMatch(/expected ID@NODE:IFACE/);
  });
});
