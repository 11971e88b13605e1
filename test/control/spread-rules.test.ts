// Who answers for what in a lab spread over runners: the owner of each impairment direction, the capture host, the
// origin of each endpoint's counters, and how the runners' statuses and impairments merge. Pure functions.
import { describe, expect, it } from 'vitest';
import type { LinkCounters } from '../../src/api/dataplane.js';
import type { LabStatus, LinkStatus } from '../../src/api/status.js';
import { counterOrigin, directionOwner, linkHost, mergeImpairments, mergeStatus, unionInOrder } from '../../src/control/spread-rules.js';
import { tcpConnections } from '../../src/k8s/plan.js';
import { validateText } from '../../src/topology/index.js';

const p2p = { endpoints: ['r2:eth1', 'r1:eth1'] };
const seg = { endpoints: ['c:eth1', 'a:eth2', 'b:eth1'] };
const self = { endpoints: ['r1:eth2', 'r1:eth1'] };

const counters = (endpoint: string, frames: number): LinkCounters => ({
  endpoint, rx: { frames, bytes: 0 }, tx: { frames: 0, bytes: 0 }, drops: { loss: 0, queue: 0, malformed: 0, oversize: 0, down: 0, disconnected: 0 },
});

function runnerStatus(node: string, links: LinkStatus[], state: LabStatus['state'] = 'ready'): LabStatus {
  return {
    lab: 'ring', file: '/etc/topo/topology.yaml', accel: 'tcg', seed: 9, pid: 100, startedAt: '2026-01-01T00:00:00.000Z', uptimeMs: 5, state,
    runDir: '/run/topo/ring', captureDir: '/c', nodes: [{ name: node, state: 'ready', restarts: 0, ports: [], channels: [] }], links,
  };
}

describe('spread rules', () => {
  it('impairment towards an endpoint is applied by the sender: the other end, a segment\'s host, or the one runner of a self-link', () => {
    expect([directionOwner(p2p, 'r1:eth1'), directionOwner(p2p, 'r2:eth1')]).toEqual(['r2', 'r1']);
    expect(seg.endpoints.map((ep) => directionOwner(seg, ep))).toEqual(['a', 'a', 'a']);
    expect(self.endpoints.map((ep) => directionOwner(self, ep))).toEqual(['r1', 'r1']);
  });

  it('the capture host is the link host of tcpConnections: the dialer of a p2p link, a segment\'s lowest member', () => {
    const t = validateText(['name: mix', 'nodes: {a: {}, b: {}, c: {}}', 'links:', '  - endpoints: [c:eth1, a:eth2, b:eth1]', '  - endpoints: [c:eth2, b:eth2]'].join('\n'), '/tmp/m.yaml');
    if (!t.ok) throw new Error('invalid');
    const conns = tcpConnections(t.topology);
    // A p2p link's dialer, and the node every segment member's connection reaches (its listener).
    expect(linkHost({ endpoints: ['c:eth2', 'b:eth2'] })).toBe(conns.find((c) => c.link === 'l2')!.dialer.node);
    expect(linkHost(seg)).toBe(conns.find((c) => c.link === 'l1')!.listener.node);
    expect(linkHost(seg)).toBe('a');
    expect(linkHost(p2p)).toBe('r1');
  });

  it('counters of an endpoint come from its own node\'s runner; a segment\'s from the host', () => {
    expect(p2p.endpoints.map((ep) => counterOrigin(p2p, ep))).toEqual(['r2', 'r1']);
    expect(seg.endpoints.map((ep) => counterOrigin(seg, ep))).toEqual(['a', 'a', 'a']);
  });

  it('merges statuses: each node from its runner, a link once (down if any runner has it down), counters by origin, unreachable kept', () => {
    const l1 = (node: string, state: 'up' | 'down'): LinkStatus => ({
      id: 'l1', endpoints: p2p.endpoints, state, kind: 'forwarded',
      counters: p2p.endpoints.map((ep) => counters(ep, node === 'r1' ? 100 : 200)),
    });
    const s = mergeStatus('ring', '/tmp/lab.json', [
      { node: 'r1', value: runnerStatus('r1', [l1('r1', 'up')]) },
      { node: 'r2', value: runnerStatus('r2', [l1('r2', 'down')], 'starting') },
      { node: 'r3', error: 'lab ring: the runner at r3:16000 does not answer (ECONNREFUSED)' },
    ]);
    expect(s.nodes.map((n) => [n.name, n.state, n.unreachable])).toEqual([
      ['r1', 'ready', undefined], ['r2', 'ready', undefined], ['r3', 'unreachable', 'lab ring: the runner at r3:16000 does not answer (ECONNREFUSED)'],
    ]);
    expect(s.links).toHaveLength(1);
    expect(s.links[0]!.state).toBe('down');
    // r2:eth1's counters from r2's runner, r1:eth1's from r1's.
    expect(s.links[0]!.counters!.map((c) => [c.endpoint, c.rx.frames])).toEqual([['r2:eth1', 200], ['r1:eth1', 100]]);
    expect({ lab: s.lab, file: s.file, state: s.state, pid: s.pid }).toEqual({ lab: 'ring', file: '/tmp/lab.json', state: 'starting', pid: 0 });
  });

  it('links keep the topology order though each runner sees only its own (a ring of four)', () => {
    // r1 sees l1 (r1-r2) and l4 (r4-r1), r2 sees l1 and l2, r3 l2 and l3, r4 l3 and l4.
    expect(unionInOrder([['l1', 'l4'], ['l1', 'l2'], ['l2', 'l3'], ['l3', 'l4']])).toEqual(['l1', 'l2', 'l3', 'l4']);
    expect(unionInOrder([['b'], ['a', 'b', 'c'], []])).toEqual(['a', 'b', 'c']);
  });

  it('merges impairments: each direction as its owner reports it, in link and endpoint order', () => {
    const imp = (to: string, delayMs: number) => ({ link: 'l1', to, impair: { delayMs } as never });
    const merged = mergeImpairments([{ id: 'l1', endpoints: p2p.endpoints }], [
      // Each runner also echoes the direction it does not own (stale); only the owner's word counts.
      { node: 'r1', value: [imp('r1:eth1', 1), imp('r2:eth1', 10)] },
      { node: 'r2', value: [imp('r1:eth1', 20), imp('r2:eth1', 2)] },
    ]);
    expect(merged.map((m) => [m.to, (m.impair as { delayMs: number }).delayMs])).toEqual([['r2:eth1', 10], ['r1:eth1', 20]]);
  });

  it('takes a segment from its host\'s view, not from a member\'s (which sees only its end and the host\'s)', () => {
    // Member c's runner reports the segment as a cable to the host a; a's runner has every member.
    const member: LinkStatus = { id: 'l1', endpoints: ['c:eth1', 'a:eth2'], state: 'up', kind: 'forwarded', counters: [counters('c:eth1', 1), counters('a:eth2', 9)] };
    const host: LinkStatus = { id: 'l1', endpoints: seg.endpoints, state: 'up', kind: 'forwarded', counters: seg.endpoints.map((ep) => counters(ep, 5)) };
    const merged = mergeStatus('lan', 'f', [{ node: 'c', value: runnerStatus('c', [member]) }, { node: 'a', value: runnerStatus('a', [host]) }]);
    expect(merged.links[0]!.endpoints).toEqual(seg.endpoints);
    expect(merged.links[0]!.counters!.map((c) => c.rx.frames)).toEqual([5, 5, 5]);
  });
});
