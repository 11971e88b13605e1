import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseAccel, hostTscKhz, parseAccelRequest } from '../../src/qemu/accel.js';

describe('chooseAccel', () => {
  it('auto picks KVM on a normal KVM host', () => {
    expect(chooseAccel('auto', { kvmUsable: true, pvm: false })).toEqual({ accel: 'kvm' });
  });
  it('auto falls back to TCG with a notice on PVM and without /dev/kvm', () => {
    expect(chooseAccel('auto', { kvmUsable: true, pvm: true }).accel).toBe('tcg');
    expect(chooseAccel('auto', { kvmUsable: true, pvm: true }).notice).toMatch(/PVM/);
    expect(chooseAccel('auto', { kvmUsable: false, pvm: false }).notice).toMatch(/not usable/);
  });
  it('explicit choices win; kvm without /dev/kvm is an error with a fix', () => {
    expect(chooseAccel('tcg', { kvmUsable: true, pvm: false }).accel).toBe('tcg');
    expect(chooseAccel('kvm', { kvmUsable: true, pvm: true }).accel).toBe('kvm');
    expect(() => chooseAccel('kvm', { kvmUsable: false, pvm: false })).toThrow(/\/dev\/kvm/);
  });
  it('parses requests, rejecting unknown ones', () => {
    expect(parseAccelRequest(undefined)).toBe('auto');
    expect(parseAccelRequest('TCG')).toBe('tcg');
    expect(() => parseAccelRequest('hvf')).toThrow(/unknown accelerator/);
  });
});

describe('hostTscKhz', () => {
  it('reads cpu MHz as integer kHz', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'topo-test-'));
    const file = path.join(dir, 'cpuinfo');
    await writeFile(file, 'processor\t: 0\ncpu MHz\t\t: 2596.122\n');
    expect(await hostTscKhz(file)).toBe(2596122);
    await writeFile(file, 'processor\t: 0\n');
    expect(await hostTscKhz(file)).toBeUndefined();
    await rm(dir, { recursive: true });
  });
});
