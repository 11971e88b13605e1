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

/** Host TSC rate in kHz from /proc/cpuinfo, for the guest's tsc_early_khz=. */
export async function hostTscKhz(cpuinfoPath = '/proc/cpuinfo'): Promise<number | undefined> {
  const text = await readFile(cpuinfoPath, 'utf8').catch(() => '');
  const m = /^cpu MHz\s*:\s*([\d.]+)/m.exec(text);
  return m?.[1] ? Math.round(Number(m[1]) * 1000) : undefined;
}
