// `topo test --attach`: whether a running lab's status fits a scenario's topology, and what the steps left changed.
import { describe, expect, it } from 'vitest';
import type { LabStatus, LinkStatus, NodeStatus } from '../../src/api/status.js';
import { labChanges, labState, topologyMismatch } from '../../src/scenario/attach-check.js';
import type { ResolvedLink } from '../../src/topology/model.js';
import { node, topology } from '../helpers/model.js';

const link = (id: string, eps: string[], forward?: boolean): ResolvedLink => ({
  id,
  index: Number(id.slice(1)) - 1,
  kind: eps.length > 2 ? 'segment' : 'p2p',
  endpoints: eps.map((e) => ({ node: e.split(':')[0]!, iface: e.split(':')[1]!, mac: '02:00:00:00:00:01' })),
  mtu: 1500,
  capture: false,
  ...(forward ? { forward } : {}),
});
const scenario = (links: ResolvedLink[], forwardLinks: string[] = []) => ({ topology: topology([node('a'), node('b'), node('c')], { name: 'tri', links }), forwardLinks });
const nodeStatus = (name: string, over: Partial<NodeStatus> = {}): NodeStatus => ({ name, state: 'ready', restarts: 0, pid: 100, ports: [], channels: [], ...over });
const linkStatus = (id: string, endpoints: string[], over: Partial<LinkStatus> = {}): LinkStatus => ({ id, endpoints, state: 'up', kind: 'direct', ...over });
const status = (over: Partial<LabStatus> = {}): Pick<LabStatus, 'lab' | 'nodes' | 'links'> => ({
  lab: 'tri',
  nodes: ['a', 'b', 'c'].map((n) => nodeStatus(n)),
  links: [linkStatus('l1', ['a:eth1', 'b:eth1']), linkStatus('l2', ['b:eth2', 'c:eth1'])],
  ...over,
});
const twoLinks = [link('l1', ['a:eth1', 'b:eth1']), link('l2', ['b:eth2', 'c:eth1'])];

describe('topologyMismatch', () => {
  it('a lab of the same topology fits, whatever the order (and so the ids) of its links', () => {
    expect(topologyMismatch(scenario(twoLinks), status())).toEqual([]);
    const swapped = [linkStatus('l1', ['c:eth1', 'b:eth2']), linkStatus('l2', ['b:eth1', 'a:eth1'])];
    expect(topologyMismatch(scenario(twoLinks), status({ links: swapped }))).toEqual([]);
  });

  it('another lab name is the one difference named', () => {
    expect(topologyMismatch(scenario(twoLinks), status({ lab: 'ring', nodes: [] }))).toEqual(['the scenario\'s topology is tri, not ring']);
  });

  it('names missing and extra nodes and links, each side', () => {
    const lab = status({ nodes: ['a', 'b', 'd'].map((n) => nodeStatus(n)), links: [linkStatus('l1', ['a:eth1', 'b:eth1']), linkStatus('l2', ['b:eth2', 'd:eth1'])] });
    expect(topologyMismatch(scenario(twoLinks), lab)).toEqual([
      'node c not in the lab',
      "node d not in the scenario's topology",
      'link b:eth2-c:eth1 (l2) not in the lab',
      "the lab's link b:eth2-d:eth1 not in the scenario's topology",
    ]);
  });

  it('a link the steps impair must be forwarded in the lab', () => {
    const s = scenario(twoLinks, ['l2']);
    expect(topologyMismatch(s, status())).toEqual([expect.stringMatching(/^a step impairs link b:eth2-c:eth1, which the lab wires direct \(start it with `topo up --forward-all`/)]);
    const forwarded = [linkStatus('l1', ['a:eth1', 'b:eth1']), linkStatus('l2', ['b:eth2', 'c:eth1'], { kind: 'forwarded' })];
    expect(topologyMismatch(s, status({ links: forwarded }))).toEqual([]);
  });
});

describe('labChanges', () => {
  const impaired = (delayMs: number) => [{ link: 'l2', to: 'c:eth1', impair: { delayMs, jitterMs: 0, lossPct: 0, rateBps: 0, duplicatePct: 0, reorderPct: 0, corruptPct: 0 } }];

  it('nothing changed: nothing to say', () => {
    expect(labChanges(labState(status(), impaired(0)), labState(status(), impaired(0)))).toEqual([]);
  });

  it('lists link state, impairments and node states or lives the steps changed', () => {
    const before = labState(status(), [{ link: 'l2', to: 'c:eth1' }]);
    const after = labState(
      status({
        nodes: [nodeStatus('a', { state: 'stopped', pid: undefined }), nodeStatus('b', { pid: 200, restarts: 0 }), nodeStatus('c')],
        links: [linkStatus('l1', ['a:eth1', 'b:eth1'], { state: 'down' }), linkStatus('l2', ['b:eth2', 'c:eth1'])],
      }),
      impaired(200),
    );
    expect(labChanges(before, after)).toEqual([
      'link l1 (a:eth1-b:eth1) is down (was up)',
      'link l2 (b:eth2-c:eth1) towards c:eth1: delay 200ms (was none)',
      'node a is stopped (was ready)',
      'node b was restarted',
    ]);
  });
});
