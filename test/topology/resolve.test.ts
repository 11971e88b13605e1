import { describe, expect, it } from 'vitest';
import { macFor } from '../../src/topology/mac.js';
import { resolved } from './helpers.js';

describe('resolve', () => {
  it('merges defaults under every node, node fields winning', () => {
    const t = resolved(`
      name: lab
      defaults: { memory: 1G, cpus: 2, run: ["echo hi"] }
      nodes:
        r1: {}
        r2: { cpus: 4, memory: 300 }
    `);
    expect(t.nodes.map((n) => [n.name, n.cpus, n.memoryMiB, n.run])).toEqual([
      ['r1', 2, 1024, ['echo hi']],
      ['r2', 4, 300, ['echo hi']],
    ]);
  });

  it('fills every default', () => {
    const t = resolved(`
      name: lab
      nodes:
        r1: {}
        fw: { kind: uefi, disk: ./disk.img }
    `);
    const [r1, fw] = t.nodes;
    expect(r1).toEqual({
      name: 'r1', kind: 'microvm', cpus: 1, memoryMiB: 256, console: 'serial', fwCfg: [], hostNetwork: true, allowReboot: false, ports: [],
      ready: {}, run: [], dependsOn: [], channels: [], restart: 'never', persist: false,
      interfaces: [{ name: 'eth0', index: 0, mac: macFor('lab', 'r1', 'eth0'), kind: 'host', mtu: 1500, addresses: [] }],
    });
    expect(fw?.memoryMiB).toBe(512);
    expect(fw?.disk).toBe('/lab/disk.img');
    expect(t.file).toBe('/lab/topo.yaml');
    expect(t.dir).toBe('/lab');
  });

  it('converts units and paths', () => {
    const t = resolved(`
      name: lab
      nodes:
        r1:
          kernel: k/vmlinuz
          initrd: /boot/initrd.img
          cmdline: quiet
          fw_cfg: { opt/org.example/config: ./enrol.pb }
          ports: [22, "8080:80", "5353:53/udp", { guest: 443, host: auto }]
          ready: { console: "login:", timeout: 90 }
        r2: { ready: { timeout: 500ms } }
      links:
        - endpoints: [r1, r2]
          impair: { delay: 40ms, loss: 0.5%, rate: 20mbit }
    `);
    const [r1, r2] = t.nodes;
    expect(r1?.kernel).toBe('/lab/k/vmlinuz');
    expect(r1?.initrd).toBe('/boot/initrd.img');
    expect(r1?.fwCfg).toEqual([{ name: 'opt/org.example/config', file: '/lab/enrol.pb' }]);
    expect(r1?.ports).toEqual([
      { guest: 22, host: 22, protocol: 'tcp' },
      { guest: 80, host: 8080, protocol: 'tcp' },
      { guest: 53, host: 5353, protocol: 'udp' },
      { guest: 443, host: 'auto', protocol: 'tcp' },
    ]);
    expect(r1?.ready).toEqual({ console: 'login:', timeoutMs: 90_000 });
    expect(r2?.ready).toEqual({ timeoutMs: 500 });
    expect(t.links[0]?.impair).toEqual({ delayMs: 40, jitterMs: 0, lossPct: 0.5, rateBps: 20_000_000, duplicatePct: 0, reorderPct: 0, corruptPct: 0 });
  });

  it('resolves the launcher fields: reboots, TPM, firmware, console, fw_cfg forms, subnet, bind', () => {
    const t = resolved(`
      name: lab
      nodes:
        r1:
          kernel: k/vmlinuz
          console: virtio
          allow_reboot: true
          host_network: { subnet: 10.42.0.0/24 }
          ports: [{ guest: 22, host: 2222, bind: 0.0.0.0 }]
          fw_cfg: { opt/a: ./a.bin, opt/b: { file: b.bin }, com.example/c: { string: "x,y" } }
        fw: { kind: uefi, tpm: { state: tpm, interface: tis }, firmware: { code: c.fd, vars: v.fd } }
        fw2: { kind: uefi, tpm: true }
    `);
    const [r1, fw, fw2] = t.nodes;
    expect(r1).toMatchObject({ console: 'virtio', allowReboot: true, hostNetwork: true, hostSubnet: '10.42.0.0/24' });
    expect(r1?.ports).toEqual([{ guest: 22, host: 2222, protocol: 'tcp', bind: '0.0.0.0' }]);
    expect(r1?.fwCfg).toEqual([
      { name: 'opt/a', file: '/lab/a.bin' },
      { name: 'opt/b', file: '/lab/b.bin' },
      { name: 'com.example/c', string: 'x,y' },
    ]);
    expect(fw?.tpm).toEqual({ state: '/lab/tpm', interface: 'tis' });
    expect(fw?.firmware).toEqual({ code: '/lab/c.fd', vars: '/lab/v.fd' });
    expect(fw?.disk).toBeUndefined();
    expect(fw2?.tpm).toEqual({ interface: 'crb' });
    expect(fw2?.firmware).toBeUndefined();
  });

  it('assigns bare endpoints the lowest interface not used explicitly, in file order', () => {
    const t = resolved(`
      name: lab
      nodes:
        r1: {}
        r2: { host_network: false }
        r3: {}
      links:
        - endpoints: [r1, r2]
        - endpoints: [r1:eth1, r3]
        - endpoints: [r2, r3:eth5]
        - endpoints: [r1, r2, r3]
    `);
    const ends = t.links.map((l) => l.endpoints.map((e) => `${e.node}:${e.iface}`));
    expect(ends).toEqual([
      ['r1:eth2', 'r2:eth0'],
      ['r1:eth1', 'r3:eth1'],
      ['r2:eth1', 'r3:eth5'],
      ['r1:eth3', 'r2:eth2', 'r3:eth2'],
    ]);
    expect(t.links.map((l) => [l.id, l.kind])).toEqual([['l1', 'p2p'], ['l2', 'p2p'], ['l3', 'p2p'], ['l4', 'segment']]);
    const r1 = t.nodes[0];
    expect(r1?.interfaces.map((i) => [i.name, i.kind, i.link])).toEqual([
      ['eth0', 'host', undefined],
      ['eth1', 'link', 'l2'],
      ['eth2', 'link', 'l1'],
      ['eth3', 'link', 'l4'],
    ]);
    expect(t.nodes[1]?.interfaces.map((i) => i.name)).toEqual(['eth0', 'eth1', 'eth2']);
  });

  it('gives link interfaces the link mtu, address and stable MACs', () => {
    const text = `
      name: lab
      nodes: { a: {}, b: {} }
      links:
        - endpoints: [a:eth1, b:eth3]
          addresses: [10.0.0.1/24, 10.0.0.2/24]
          mtu: 9000
          capture: true
    `;
    const t = resolved(text);
    const [l1] = t.links;
    expect(l1).toMatchObject({ id: 'l1', index: 0, mtu: 9000, capture: true });
    expect(l1?.impair).toBeUndefined();
    expect(l1?.endpoints[1]).toEqual({ node: 'b', iface: 'eth3', mac: macFor('lab', 'b', 'eth3'), address: '10.0.0.2/24' });
    expect(t.nodes[1]?.interfaces[1]).toEqual({ name: 'eth3', index: 3, mac: macFor('lab', 'b', 'eth3'), kind: 'link', link: 'l1', mtu: 9000, addresses: ['10.0.0.2/24'] });
    expect(resolved(text)).toEqual(t);
  });

  it('defaults link fields', () => {
    const t = resolved(`
      name: lab
      nodes: { a: {}, b: {} }
      links: [{ endpoints: [a, b] }]
    `);
    expect(t.links[0]).toMatchObject({ mtu: 1500, capture: false });
    expect(t.links[0]?.endpoints[0]?.address).toBeUndefined();
    expect('address' in (t.links[0]?.endpoints[0] ?? {})).toBe(false);
  });

  it('is deeply frozen', () => {
    const t = resolved(`
      name: lab
      nodes: { a: { ports: [22] }, b: {} }
      links: [{ endpoints: [a, b], impair: { loss: 1 } }]
    `);
    expect(Object.isFrozen(t)).toBe(true);
    expect(Object.isFrozen(t.nodes)).toBe(true);
    expect(Object.isFrozen(t.nodes[0]?.ports[0])).toBe(true);
    expect(Object.isFrozen(t.nodes[0]?.interfaces[0])).toBe(true);
    expect(Object.isFrozen(t.links[0]?.impair)).toBe(true);
    expect(() => {
      (t.nodes as unknown as unknown[]).push({});
    }).toThrow();
  });
});
