// One test per semantic rule, through validateText so positions are checked too.
import { describe, expect, it } from 'vitest';
import { errorsOf, expectOne } from './helpers.js';

const twoNodes = (link: string) => `
  name: lab
  nodes: { r1: {}, r2: {} }
  links:
    - ${link}
`;

describe('semantic rules', () => {
  it('unknown node in an endpoint', () => {
    const e = expectOne(
      `
      name: lab
      nodes: { r1: {}, r2: {}, r3: {} }
      links:
        - endpoints: [r1:eth1, r9:eth1]
      `,
      'E_UNKNOWN_NODE',
      'link 1 endpoint "r9:eth1": unknown node "r9" (known nodes: r1, r2, r3)',
    );
    expect([e.line, e.column, e.path]).toEqual([4, 26, '/links/0/endpoints/1']);
  });

  it('unknown node in depends_on, with a suggestion', () => {
    const e = expectOne(
      `
      name: lab
      nodes:
        router: {}
        host: { depends_on: [ruoter] }
      `,
      'E_UNKNOWN_NODE',
      'unknown node "ruoter"; did you mean "router"?',
    );
    expect(e.path).toBe('/nodes/host/depends_on/0');
  });

  it('the same interface in two links', () => {
    const e = expectOne(
      `
      name: lab
      nodes: { r1: {}, r2: {}, r3: {} }
      links:
        - endpoints: [r1:eth1, r2:eth1]
        - endpoints: [r2:eth2, r3:eth1]
        - endpoints: [r1:eth1, r3:eth2]
      `,
      'E_IFACE_TWICE',
      'interface r1:eth1 is used twice (links 1 and 3); give one of them another interface',
    );
    expect([e.line, e.column]).toEqual([6, 17]);
  });

  it('the same interface twice in one link', () => {
    expectOne(twoNodes('endpoints: [r1:eth1, r2:eth1, r1:eth1]'), 'E_IFACE_TWICE', 'interface r1:eth1 is used twice in link 1');
  });

  it('a bare endpoint never collides with an explicit one', () => {
    expect(errorsOf(twoNodes('endpoints: [r1, r2]\n    - endpoints: [r1:eth1, r2:eth1]'))).toEqual([]);
  });

  it('fewer than two endpoints', () => {
    const e = expectOne(twoNodes('endpoints: [r1]'), 'E_ENDPOINTS', 'link 1 has 1 endpoint; a link needs at least 2');
    expect(e.path).toBe('/links/0/endpoints');
  });

  it('eth0 in a link while host_network is on', () => {
    expectOne(twoNodes('endpoints: [r1:eth0, r2:eth1]'), 'E_ETH0_HOST', "eth0 is r1's host interface; use eth1 or above, or set host_network: false on r1");
    expect(errorsOf(`
      name: lab
      nodes: { r1: { host_network: false }, r2: {} }
      links: [{ endpoints: [r1:eth0, r2:eth1] }]
    `)).toEqual([]);
  });

  it('addresses count differs from endpoints', () => {
    expectOne(twoNodes('{ endpoints: [r1, r2], addresses: [10.0.0.1/24, 10.0.0.2/24, 10.0.0.3/24] }'), 'E_ADDRESS_COUNT', 'link 1 has 2 endpoints but 3 addresses');
  });

  it('invalid IPv4 CIDR', () => {
    expectOne(twoNodes('{ endpoints: [r1, r2], addresses: [10.0.0.1/24, 10.0.0.999/24] }'), 'E_CIDR', '"10.0.0.999" is not an IPv4 or IPv6 address');
    expectOne(twoNodes('{ endpoints: [r1, r2], addresses: [10.0.0.1/24, 10.0.0.2/33] }'), 'E_CIDR', 'prefix /33 is out of range for IPv4; use 0..32');
    expectOne(twoNodes('{ endpoints: [r1, r2], addresses: [10.0.0.1/24, 10.0.0.2] }'), 'E_CIDR', 'missing prefix length');
  });

  it('invalid IPv6 CIDR', () => {
    expectOne(twoNodes('{ endpoints: [r1, r2], addresses: ["fd00::1/64", "fd00::2/200"] }'), 'E_CIDR', 'prefix /200 is out of range for IPv6; use 0..128');
    expectOne(twoNodes('{ endpoints: [r1, r2], addresses: ["fd00::1/64", "fd00:::2/64"] }'), 'E_CIDR', '"fd00:::2" is not an IPv4 or IPv6 address');
    expect(errorsOf(twoNodes('{ endpoints: [r1, r2], addresses: ["fd00::1/64", "fd00::2/64"] }'))).toEqual([]);
  });

  it('all addresses of a link in one family', () => {
    expectOne(twoNodes('{ endpoints: [r1, r2], addresses: [10.0.0.1/24, "fd00::2/64"] }'), 'E_ADDRESS_FAMILY', 'mixes IPv4 and IPv6');
  });

  it('percent over 100', () => {
    expectOne(twoNodes('{ endpoints: [r1, r2], impair: { loss: 101% } }'), 'E_PERCENT', 'link 1 impair loss "101%": 101% is over 100');
    expectOne(twoNodes('{ endpoints: [r1, r2], impair: { corrupt: 200 } }'), 'E_PERCENT', 'link 1 impair corrupt 200: 200% is over 100');
  });

  it('unknown duration unit', () => {
    expectOne(twoNodes('{ endpoints: [r1, r2], impair: { jitter: 5us } }'), 'E_DURATION', 'unknown duration unit "us"; use ms, s, m, h');
  });

  it('unknown rate unit', () => {
    expectOne(twoNodes('{ endpoints: [r1, r2], impair: { rate: 1tbit } }'), 'E_RATE', 'unknown rate unit "tbit"; use bit, kbit, mbit, gbit');
  });

  it('invalid regex in ready.console', () => {
    expectOne('name: lab\nnodes: { r1: { ready: { console: "[a-" } } }', 'E_REGEX', 'node r1 ready console "[a-": not a valid regular expression');
  });

  it('an explicit host port used twice (same protocol)', () => {
    expectOne(
      'name: lab\nnodes: { r1: { ports: ["2222:22"] }, r2: { ports: [{ guest: 22, host: 2222 }] } }',
      'E_PORT_TWICE',
      'host port 2222/tcp is forwarded twice (nodes r1 and r2)',
    );
    expect(errorsOf('name: lab\nnodes: { r1: { ports: ["53:53"] }, r2: { ports: ["53:53/udp"] } }')).toEqual([]);
    expect(errorsOf('name: lab\nnodes: { r1: { ports: [{ guest: 22, host: auto }] }, r2: { ports: [{ guest: 22, host: auto }] } }')).toEqual([]);
  });

  it('a depends_on cycle, named hop by hop', () => {
    const e = expectOne(
      `
      name: lab
      nodes:
        a: { depends_on: [b] }
        b: { depends_on: [c] }
        c: { depends_on: [a] }
        d: { depends_on: [a] }
      `,
      'E_DEP_CYCLE',
      'depends_on cycle: a -> b -> c -> a',
    );
    expect(e.path).toBe('/nodes/a/depends_on');
    expectOne('name: lab\nnodes: { a: { depends_on: [a] } }', 'E_DEP_CYCLE', 'a -> a');
  });

  it('kernel, initrd, cmdline not allowed on uefi', () => {
    const errs = errorsOf('name: lab\nnodes:\n  fw: { kind: uefi, disk: d.img, kernel: k, initrd: i, cmdline: c }');
    expect(errs.map((e) => e.code)).toEqual(['E_KIND_FIELD', 'E_KIND_FIELD', 'E_KIND_FIELD']);
    expect(errs[0]?.message).toContain('node fw: kernel is only for kind microvm');
  });

  it('disk, tpm, persist not allowed on microvm', () => {
    const errs = errorsOf('name: lab\nnodes:\n  r1: { disk: d.img, tpm: true, persist: true }');
    expect(errs.map((e) => e.message.split(' is only')[0])).toEqual(['node r1: disk', 'node r1: tpm', 'node r1: persist']);
  });

  it('uefi without a disk is valid (the default guest), but persist then has nothing to write to', () => {
    expect(errorsOf('name: lab\nnodes:\n  fw: { kind: uefi }')).toEqual([]);
    const e = expectOne('name: lab\nnodes:\n  fw: { kind: uefi, persist: true }', 'E_PERSIST_NO_DISK', 'persist needs a disk');
    expect([e.line, e.column]).toEqual([3, 21]);
  });

  it('referenced files must exist, relative to the topology file', () => {
    const missing = (p: string) => !p.endsWith('missing');
    const errs = errorsOf(
      `
      name: lab
      nodes:
        r1: { kernel: ./missing, initrd: ok, fw_cfg: { opt/x: sub/missing } }
        fw: { kind: uefi, disk: ../missing }
      `,
      missing,
    );
    expect(errs.map((e) => [e.code, e.path])).toEqual([
      ['E_FILE_MISSING', '/nodes/r1/kernel'],
      ['E_FILE_MISSING', '/nodes/r1/fw_cfg/opt~1x'],
      ['E_FILE_MISSING', '/nodes/fw/disk'],
    ]);
    expect(errs[1]?.message).toContain('looked for /lab/sub/missing');
    expect(errs[2]?.message).toContain('looked for /missing');
  });

  it('more than 64 interfaces on a node', () => {
    const links = Array.from({ length: 65 }, (_, i) => `  - endpoints: [hub, ${i % 2 ? 'a' : 'b'}]`).join('\n');
    const text = `name: lab\nnodes:\n  hub: { host_network: false }\n  a: { host_network: false }\n  b: { host_network: false }\nlinks:\n${links}\n`;
    const e = expectOne(text, 'E_IFACE_FULL', 'hub has no free interface left');
    expect(e.path).toBe('/links/64/endpoints/0');
  });

  it('an interface beyond eth63', () => {
    expectOne(twoNodes('endpoints: [r1:eth64, r2]'), 'E_IFACE_RANGE', 'interface eth64 is out of range; a node has eth0..eth63');
  });

  it('a node twice in one link', () => {
    expectOne(twoNodes('endpoints: [r1:eth1, r1:eth2]'), 'E_SELF_LINK', 'node r1 appears twice in link 1');
    expectOne(twoNodes('endpoints: [r1, r2, r1]'), 'E_SELF_LINK', 'node r1 appears twice in link 1');
  });

  it('memory out of range', () => {
    expectOne('name: lab\nnodes: { r1: { memory: 65G } }', 'E_SIZE', 'memory must be between 64M and 64G');
  });

  it('ports need the host interface', () => {
    expectOne('name: lab\nnodes: { r1: { host_network: false, ports: [22] } }', 'E_PORTS_NO_HOST', 'ports need the host interface');
  });

  it('a kind rule violated through defaults points at defaults', () => {
    const errs = errorsOf('name: lab\ndefaults: { kernel: k }\nnodes:\n  fw: { kind: uefi, disk: d }\n  r1: {}\n');
    expect(errs.map((e) => [e.path, e.line])).toEqual([['/defaults/kernel', 2]]);
  });

  it('reports all problems at once, sorted by line', () => {
    const errs = errorsOf(`
      name: lab
      nodes:
        r1: { depends_on: [r2] }
        r2: { depends_on: [r1], memory: 1Q }
      links:
        - endpoints: [r1, r7]
    `);
    expect(errs.map((e) => [e.line, e.code])).toEqual([
      [3, 'E_DEP_CYCLE'],
      [4, 'E_SIZE'],
      [6, 'E_UNKNOWN_NODE'],
    ]);
  });
});
