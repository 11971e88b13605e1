// A link a scenario impairs must be forwarded even when the file alone makes it a direct socketpair.
import { describe, expect, it } from 'vitest';
import { LinkFabric } from '../../src/net/links.js';
import { iface, node, topology } from '../helpers/model.js';

const p2p = (id: string, index: number) => ({ id, index, kind: 'p2p' as const, mtu: 1500, capture: false, endpoints: [{ node: 'a', iface: `eth${index + 1}`, mac: 'x' }, { node: 'b', iface: `eth${index + 1}`, mac: 'y' }] });

describe('FabricOptions.forwardLinks', () => {
  it('forwards exactly the named plain links', async () => {
    const a = node('a', { interfaces: [iface('eth1', { link: 'l1' }), iface('eth2', { link: 'l2' })] });
    const b = node('b', { interfaces: [iface('eth1', { link: 'l1' }), iface('eth2', { link: 'l2' })] });
    const topo = topology([a, b], { links: [p2p('l1', 0), p2p('l2', 1)] });
    const plain = new LinkFabric(topo, { captureFile: () => '/dev/null' });
    const named = new LinkFabric(topo, { captureFile: () => '/dev/null', forwardLinks: ['l2'] });
    try {
      expect(plain.forwarded().map((f) => f.link.id)).toEqual([]);
      expect(named.forwarded().map((f) => f.link.id)).toEqual(['l2']);
    } finally {
      await plain.close();
      await named.close();
    }
  });
});
