// The one not-found error per kind of name: the local lab, the remote one and the control server all use these.
import { describe, expect, it } from 'vitest';
import { checkNode, endpointLink, linkIndex, noNode, statusNames, topologyNames } from '../../src/api/lookup.js';

const topology = {
  name: 'tri',
  nodes: [{ name: 'r1' }, { name: 'r2' }],
  links: [
    { id: 'l1', endpoints: [{ node: 'r1', iface: 'eth1' }, { node: 'r2', iface: 'eth1' }] },
    { id: 'l2', endpoints: [{ node: 'r2', iface: 'eth2' }, { node: 'r1', iface: 'eth2' }] },
  ],
};
const status = { lab: 'tri', nodes: [{ name: 'r1' }, { name: 'r2' }], links: [{ id: 'l1', endpoints: ['r1:eth1', 'r2:eth1'] }, { id: 'l2', endpoints: ['r2:eth2', 'r1:eth2'] }] };

describe('lab names', () => {
  it('are the same whether read from the topology (local) or the status (remote)', () => {
    expect(topologyNames(topology)).toEqual(statusNames(status));
  });

  it('an unknown node is E_NO_NODE listing the nodes', () => {
    expect(() => checkNode(statusNames(status), 'r3')).toThrow(expect.objectContaining({ code: 'E_NO_NODE', message: 'no node "r3" in lab tri (nodes: r1, r2)' }));
    expect(() => checkNode(statusNames(status), 'r2')).not.toThrow();
    expect(noNode({ name: 'x', nodes: [] }, 'a').message).toBe('no node "a" in lab x (nodes: )');
  });

  it('a link is named by id or NODE:IFACE; a bare node or an unknown name is E_NO_LINK listing what exists', () => {
    const names = topologyNames(topology);
    expect(linkIndex(names, 'l2')).toBe(1);
    expect(linkIndex(names, 'r1:eth2')).toBe(1);
    expect(endpointLink(topology, 'r2:eth1').id).toBe('l1');
    for (const bad of ['r1', 'r1:eth9', 'zz:eth0']) {
      expect(() => linkIndex(names, bad)).toThrow(
        expect.objectContaining({
          code: 'E_NO_LINK',
          message: `no link "${bad}" in lab tri (links and endpoints: l1, r1:eth1, r2:eth1, l2, r2:eth2, r1:eth2)`,
          hint: 'name an endpoint as NODE:IFACE, or a link id from `topo ps`',
        }),
      );
    }
    expect(() => linkIndex({ name: 'e', links: [] }, 'a:eth0')).toThrow('(links and endpoints: none)');
  });
});
