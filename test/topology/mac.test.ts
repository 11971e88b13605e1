import { describe, expect, it } from 'vitest';
import { macFor } from '../../src/topology/mac.js';

describe('macFor', () => {
  it('is stable for the same input', () => {
    expect(macFor('lab', 'r1', 'eth1')).toBe(macFor('lab', 'r1', 'eth1'));
  });

  it('looks like a MAC with the locally administered bit set and the multicast bit clear', () => {
    for (const [lab, node, iface] of [['lab', 'r1', 'eth0'], ['x', 'y', 'eth63'], ['triangle', 'r3', 'eth2']] as const) {
      const mac = macFor(lab, node, iface);
      expect(mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      const first = parseInt(mac.slice(0, 2), 16);
      expect(first & 0x02).toBe(0x02);
      expect(first & 0x01).toBe(0);
    }
  });

  it('differs when lab, node or interface differ', () => {
    const macs = new Set([macFor('lab', 'r1', 'eth1'), macFor('lab2', 'r1', 'eth1'), macFor('lab', 'r2', 'eth1'), macFor('lab', 'r1', 'eth2')]);
    expect(macs.size).toBe(4);
  });

});
