// `topo doctor`: everything `topo up` needs, each gap with the exact command that fixes it.
import { access } from 'node:fs/promises';
import { execa } from 'execa';
import { chooseAccel, probeAccel } from '../qemu/accel.js';
import { EFI_STUB } from '../guest/esp.js';
import { BWRAP_BINARY, VIRTIOFSD_BINARY } from '../machine/virtiofsd.js';
import { findExecutable, qemuBinary } from '../machine/preflight.js';
import { OVMF_CODE, OVMF_VARS } from '../machine/uefi.js';

interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
  /** Only needed for some topologies (uefi nodes): a gap is a warning, not a failure. */
  optional?: boolean;
}

export async function doctorCommand(opts: { json?: boolean }): Promise<number> {
  const checks = await runChecks();
  if (opts.json) process.stdout.write(`${JSON.stringify({ ok: checks.every((c) => c.ok || c.optional), checks }, null, 2)}\n`);
  else {
    for (const c of checks) {
      const mark = c.ok ? 'ok  ' : c.optional ? 'warn' : 'FAIL';
      process.stdout.write(`${mark}  ${c.name}: ${c.detail}${!c.ok && c.fix ? `\n      fix: ${c.fix}` : ''}\n`);
    }
  }
  return checks.every((c) => c.ok || c.optional) ? 0 : 1;
}

export async function runChecks(): Promise<Check[]> {
  const checks: Check[] = [];
  const qemu = await findExecutable(qemuBinary());
  const version = qemu ? await execa(qemu, ['--version'], { reject: false }).then((r) => /version ([\d.]+)/.exec(r.stdout)?.[1]) : undefined;
  checks.push({
    name: 'qemu',
    ok: Boolean(qemu && version),
    detail: qemu ? `${qemu} ${version ?? '(version unknown)'}` : `${qemuBinary()} not found`,
    fix: 'apt-get install qemu-system-x86',
  });
  const probe = await probeAccel();
  const choice = chooseAccel('auto', probe);
  checks.push({
    name: 'accelerator',
    ok: true,
    detail: choice.accel === 'kvm' ? 'kvm' : `tcg (${choice.notice?.replace(/^notice: using TCG \(software emulation\): /, '') ?? 'forced'})`,
  });
  checks.push(await tool('setpriv', 'util-linux', 'ties every VM to topo so none outlives it'));
  checks.push(await tool('apt-get', 'apt', 'downloads the default guest\'s kernel and busybox'));
  checks.push(await tool('dpkg-deb', 'dpkg', 'unpacks the default guest\'s packages'));
  const lists = await execa('apt-cache', ['policy', 'busybox-static'], { reject: false }).then((r) => /Candidate: (?!\(none\))/.test(r.stdout), () => false);
  checks.push({ name: 'package lists', ok: lists, detail: lists ? 'busybox-static is downloadable' : 'apt has no candidate for busybox-static', fix: 'apt-get update' });
  checks.push({ ...(await tool('swtpm', 'swtpm', 'TPM for uefi nodes with tpm: true')), optional: true });
  const ovmf = await Promise.all([OVMF_CODE, OVMF_VARS].map((f) => access(f).then(() => true, () => false)));
  checks.push({ name: 'ovmf', ok: ovmf.every(Boolean), detail: ovmf.every(Boolean) ? OVMF_CODE : 'OVMF firmware missing (uefi nodes)', fix: 'apt-get install ovmf', optional: true });
  // `topo guest esp` (a bootable disk of the default guest for uefi nodes) needs these three.
  const stub = await access(EFI_STUB).then(() => true, () => false);
  checks.push({ name: 'efi stub', ok: stub, detail: stub ? EFI_STUB : 'systemd-boot EFI stub missing (topo guest esp)', fix: 'apt-get install systemd-boot-efi', optional: true });
  checks.push({ ...(await tool('objcopy', 'binutils', 'builds the UKI for topo guest esp')), optional: true });
  checks.push({ ...(await tool('mformat', 'mtools', 'writes the FAT image for topo guest esp')), optional: true });
  checks.push({ ...(await tool(VIRTIOFSD_BINARY, 'qemu-system-common', 'serves shares: (as root)')), name: 'virtiofsd', optional: true });
  checks.push({ ...(await tool(BWRAP_BINARY, 'bubblewrap', 'confines virtiofsd for shares:')), optional: true });
  return checks;
}

async function tool(name: string, pkg: string, why: string): Promise<Check> {
  const found = await findExecutable(name);
  return { name, ok: Boolean(found), detail: found ?? `not found (${why})`, fix: `apt-get install ${pkg}` };
}
