import { describe, expect, it } from 'vitest';
import { GUEST_CONFIG_FW_CFG_NAME, READY_LINE, isReadyLine, readyLine, renderGuestConfig } from '../../src/guest/config.js';
import { READY_LINE as INDEX_READY_LINE } from '../../src/guest/index.js';
import { iface, node } from '../helpers/model.js';

const weird = `printf '%s' "it's \\"quoted\\" $HOME \\\\ back\\\\slash" > /tmp/w\necho 'second line' ✓ é\t$(true)`;

function parse(buf: Buffer): string[][] {
  const text = buf.toString('utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split('\n').map((l) => l.split(' '));
}
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

describe('renderGuestConfig', () => {
  it('writes the versioned line format with base64 free text', () => {
    const n = node('r1 ✓', {
      hostNetwork: true,
      interfaces: [
        iface('eth0', { kind: 'host', mac: '02:AA:00:00:00:01' }),
        iface('eth1', { mtu: 9000, addresses: ['10.0.12.1/24', 'fd00:12::1/64'] }),
      ],
      run: ['echo one', weird, ''],
    });
    const lines = parse(renderGuestConfig(n));
    expect(lines[0]).toEqual(['topo-guest-config', '1']);
    expect(lines[1]![0]).toBe('hostname');
    expect(unb64(lines[1]![1]!)).toBe('r1 ✓');
    expect(lines).toContainEqual(['iface', '02:aa:00:00:00:01', 'eth0', '1500']);
    expect(lines).toContainEqual(['iface', '02:00:00:00:00:01', 'eth1', '9000']);
    // The host interface gets SLIRP's static address, gateway and DNS.
    expect(lines).toContainEqual(['addr', 'eth0', '10.0.2.15/24']);
    expect(lines).toContainEqual(['gateway', 'eth0', '10.0.2.2']);
    expect(lines).toContainEqual(['dns', '10.0.2.3']);
    expect(lines).toContainEqual(['addr', 'eth1', 'fd00:12::1/64']);
    const runs = lines.filter((l) => l[0] === 'run').map((l) => unb64(l[1] ?? ''));
    expect(runs).toEqual(['echo one', weird, '']);
    // Every line has a fixed shape: no free text can add fields or lines.
    for (const l of lines) expect(l.every((f) => !/\s/.test(f))).toBe(true);
    expect(GUEST_CONFIG_FW_CFG_NAME).toBe('opt/topo/config');
  });

  it('a host_network subnet moves the guest address, gateway and DNS with it (.15, .2, .3)', () => {
    const n = node('r1', { hostNetwork: true, hostSubnet: '10.42.0.0/24', interfaces: [iface('eth0', { kind: 'host' })] });
    const lines = parse(renderGuestConfig(n));
    expect(lines).toContainEqual(['addr', 'eth0', '10.42.0.15/24']);
    expect(lines).toContainEqual(['gateway', 'eth0', '10.42.0.2']);
    expect(lines).toContainEqual(['dns', '10.42.0.3']);
    expect(lines.flat()).not.toContain('10.0.2.2');
  });

  it('handles 64 interfaces and is pure', () => {
    const ifs = Array.from({ length: 64 }, (_, i) => iface(`eth${i}`, { addresses: [`10.${i}.0.1/24`] }));
    const n = node('big', { interfaces: ifs });
    const a = renderGuestConfig(n);
    expect(a.equals(renderGuestConfig(n))).toBe(true);
    const lines = parse(a);
    expect(lines.filter((l) => l[0] === 'iface')).toHaveLength(64);
    expect(lines.filter((l) => l[0] === 'addr')).toHaveLength(64);
    expect(lines.some((l) => l[0] === 'gateway')).toBe(false);
  });

  it('rejects values that would break the format', () => {
    expect(() => renderGuestConfig(node('x', { interfaces: [iface('eth1', { mac: 'zz' })] }))).toThrow(/invalid MAC/);
    expect(() => renderGuestConfig(node('x', { interfaces: [iface('eth1', { addresses: ['10.0.0.1/24 x'] })] }))).toThrow(/invalid address/);
    expect(() => renderGuestConfig(node('x', { interfaces: [iface('eth1', { name: 'eth 1' })] }))).toThrow(/interface name/);
  });

  it('adds the run nonce and the channels as records, and only valid ones', () => {
    const n = node('r1', { run: ['true'] });
    const lines = parse(renderGuestConfig(n, { nonce: '0123abcd', channels: ['test.chan', 'b-2_x'] }));
    expect(lines).toContainEqual(['nonce', '0123abcd']);
    expect(lines.filter((l) => l[0] === 'channel')).toEqual([['channel', 'test.chan'], ['channel', 'b-2_x']]);
    expect(parse(renderGuestConfig(n)).some((l) => l[0] === 'nonce' || l[0] === 'channel')).toBe(false);
    for (const nonce of ['', 'ABCD', 'xyz', 'ab cd', '0'.repeat(65)]) {
      expect(() => renderGuestConfig(n, { nonce })).toThrow(/invalid nonce/);
    }
    for (const name of ['Upper', '1abc', 'a/b', 'a b', '', 'org.topo.agent', `a${'b'.repeat(64)}`]) {
      expect(() => renderGuestConfig(n, { channels: [name] })).toThrow(/invalid channel name/);
    }
  });
});

describe('ready line', () => {
  it('is the prefix plus the nonce, matched as a whole line only', () => {
    expect(readyLine('c0ffee')).toBe('topo-guest: ready c0ffee');
    expect(readyLine('')).toBe(READY_LINE);
    expect(INDEX_READY_LINE).toBe('topo-guest: ready');
    expect(isReadyLine('topo-guest: ready c0ffee', 'c0ffee')).toBe(true);
    expect(isReadyLine('topo-guest: ready c0ffee\r', 'c0ffee')).toBe(true);
    // A run: command echoing the line, another run's nonce, a bare prefix, extra text: all not ready.
    for (const line of ['topo-run[0]: topo-guest: ready c0ffee', 'topo-guest: ready c0ffe', 'topo-guest: ready', 'topo-guest: ready c0ffee x', ' topo-guest: ready c0ffee', 'topo-guest: ready c0ffee\r\r']) {
      expect(isReadyLine(line, 'c0ffee')).toBe(false);
    }
  });
});
