import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseAccel, hostTsc, hostTscKhz, parseAccelRequest, tscFromKernelLog } from '../../src/qemu/accel.js';

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

describe('hostTsc', () => {
  it("prefers the kernel's calibrated rate over cpuinfo's current clock", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'topo-tsc-'));
    const cpuinfo = path.join(dir, 'cpuinfo');
    await writeFile(cpuinfo, 'cpu MHz\t\t: 1200.000\n');
    const log = '[0.0] tsc: Detected 2499.998 MHz processor\n[1.2] tsc: Refined TSC clocksource calibration: 2500.001 MHz\n';
    expect(await hostTsc({ sysfs: path.join(dir, 'none'), kernelLog: async () => log, cpuinfo })).toEqual({ khz: 2500001, source: 'kernel log' });
    expect(await hostTsc({ sysfs: path.join(dir, 'none'), kernelLog: async () => '', cpuinfo })).toEqual({ khz: 1200000, source: 'cpuinfo' });
    await writeFile(path.join(dir, 'sysfs'), '2600000\n');
    expect(await hostTsc({ sysfs: path.join(dir, 'sysfs'), kernelLog: async () => log, cpuinfo })).toEqual({ khz: 2600000, source: 'sysfs' });
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the early calibration when no refined one was logged', () => {
    expect(tscFromKernelLog('tsc: Detected 2599.999 MHz processor')).toBe(2599999);
    expect(tscFromKernelLog('nothing here')).toBeUndefined();
  });
});
