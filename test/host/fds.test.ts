// Socketpair ends must reach only the child they are handed to: every other child sees none of them.
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { LinkFabric } from '../../src/net/links.js';
import { closeFd, socketPair } from '../../src/host/fds.js';
import { iface, node, topology } from '../helpers/model.js';

const fdsOfChild = async (extra: number[] = []) => {
  const stdio = ['ignore', 'pipe', 'ignore', ...extra] as unknown as ['ignore', 'pipe', 'ignore'];
  const { stdout } = await execa('sh', ['-c', 'ls /proc/$$/fd'], { stdio });
  return stdout.split('\n').map(Number).sort((a, b) => a - b);
};

describe('fd hygiene', () => {
  it('an unrelated child inherits no socketpair end while a lab holds many', async () => {
    const baseline = await fdsOfChild();
    const a = node('a', { interfaces: [iface('eth1', { link: 'l1' })] });
    const b = node('b', { interfaces: [iface('eth1', { link: 'l1' })] });
    const fabric = new LinkFabric(
      topology([a, b], {
        links: [{ id: 'l1', index: 0, kind: 'p2p', mtu: 1500, capture: false, endpoints: [{ node: 'a', iface: 'eth1', mac: 'x' }, { node: 'b', iface: 'eth1', mac: 'y' }] }],
      }),
      { captureFile: () => '/dev/null' },
    );
    const pairs = Array.from({ length: 20 }, () => socketPair());
    try {
      expect(await fdsOfChild()).toEqual(baseline);
      // The one handed over lands exactly at fd 3, nothing else comes with it.
      expect(new Set(await fdsOfChild([pairs[0]![1]]))).toEqual(new Set([...baseline, 3]));
    } finally {
      pairs.flat().forEach(closeFd);
      await fabric.close();
    }
  });
});
