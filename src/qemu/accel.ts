// Accelerator choice: KVM when usable and not the PVM flavour (standard guest kernels hang there), else TCG.
import { access, constants, readFile } from 'node:fs/promises';
import { TopoError } from '../errors.js';
import type { Accel } from './plan.js';

export type AccelRequest = 'auto' | Accel;

export interface AccelProbe {
  kvmUsable: boolean;
  pvm: boolean;
}

export interface AccelChoice {
  accel: Accel;
  /** One-line notice for the user when auto fell back to TCG. */
  notice?: string;
}

export async function probeAccel(): Promise<AccelProbe> {
  const kvmUsable = await access('/dev/kvm', constants.R_OK | constants.W_OK).then(() => true, () => false);
  const pvm = await access('/sys/module/kvm_pvm').then(() => true, () => false);
  return { kvmUsable, pvm };
}

/** Pure decision, so every branch is unit-tested without a host. */
export function chooseAccel(request: AccelRequest, probe: AccelProbe): AccelChoice {
  if (request === 'tcg') return { accel: 'tcg' };
  if (request === 'kvm') {
    if (!probe.kvmUsable) {
      throw new TopoError('--accel kvm: /dev/kvm is missing or not accessible', {
        code: 'E_ACCEL',
        hint: 'load the kvm module and add yourself to the kvm group, or use --accel tcg',
      });
    }
    return { accel: 'kvm' };
  }
  if (probe.kvmUsable && !probe.pvm) return { accel: 'kvm' };
  const why = probe.pvm ? 'this host runs the PVM flavour of KVM, where standard guest kernels hang' : '/dev/kvm is not usable';
  return { accel: 'tcg', notice: `notice: using TCG (software emulation): ${why}` };
}

export function parseAccelRequest(value: string | undefined): AccelRequest {
  const v = (value ?? 'auto').toLowerCase();
  if (v === 'auto' || v === 'kvm' || v === 'tcg') return v;
  throw new TopoError(`unknown accelerator "${value}"`, { code: 'E_USAGE', hint: 'use auto, kvm or tcg (flag --accel or TOPO_ACCEL)' });
}

export interface TscRate {
  khz: number;
  /** Where the rate came from: the kernel's own calibration, or the (possibly scaled) current clock. */
  source: 'sysfs' | 'kernel log' | 'cpuinfo';
}

export interface TscSources {
  sysfs?: string;
  kernelLog?: () => Promise<string>;
  cpuinfo?: string;
}

/** The kernel's calibrated TSC rate in a kernel log: the refined value if present, else the early one. */
export function tscFromKernelLog(log: string): number | undefined {
  const refined = [...log.matchAll(/Refined TSC clocksource calibration: ([\d.]+) MHz/g)].at(-1);
  const detected = /tsc: Detected ([\d.]+) MHz processor/.exec(log);
  const mhz = refined?.[1] ?? detected?.[1];
  return mhz ? Math.round(Number(mhz) * 1000) : undefined;
}

/**
 * Host TSC rate for the guest's tsc_early_khz=. `cpu MHz` in /proc/cpuinfo is the current clock, which frequency
 * scaling moves: it is only the last resort after the kernel's own calibrated rate (sysfs, then the kernel log).
 */
export async function hostTsc(src: TscSources = {}): Promise<TscRate | undefined> {
  const sysfs = await readFile(src.sysfs ?? '/sys/devices/system/cpu/cpu0/tsc_freq_khz', 'utf8').catch(() => '');
  if (/^\d+\s*$/.test(sysfs)) return { khz: Number(sysfs.trim()), source: 'sysfs' };
  const log = await (src.kernelLog ?? kernelLog)().catch(() => '');
  const fromLog = tscFromKernelLog(log);
  if (fromLog) return { khz: fromLog, source: 'kernel log' };
  const text = await readFile(src.cpuinfo ?? '/proc/cpuinfo', 'utf8').catch(() => '');
  const m = /^cpu MHz\s*:\s*([\d.]+)/m.exec(text);
  return m?.[1] ? { khz: Math.round(Number(m[1]) * 1000), source: 'cpuinfo' } : undefined;
}

// node's execFile, not execa: this runs on every `topo up`, and importing execa costs ~0.1 s.
async function kernelLog(): Promise<string> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve) => {
    const child = execFile('dmesg', [], { timeout: 2000, maxBuffer: 64 * 2 ** 20 }, (err, stdout) => resolve(err ? '' : stdout));
    child.stdin?.end();
  });
}

/** Host TSC rate in kHz (see hostTsc); `cpuinfoPath` alone reads only that file (tests). */
export async function hostTscKhz(cpuinfoPath?: string): Promise<number | undefined> {
  const rate = cpuinfoPath ? await hostTsc({ sysfs: '/nonexistent', kernelLog: async () => '', cpuinfo: cpuinfoPath }) : await hostTsc();
  return rate?.khz;
}
