import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

describe('topo doctor', () => {
  it('reports every check with a fix, and passes on a machine set up by scripts/setup.sh', async () => {
    const res = await runCli('doctor', '--json');
    const report = JSON.parse(res.stdout) as { ok: boolean; checks: { name: string; ok: boolean; detail: string; fix?: string }[] };
    expect(report.checks.map((c) => c.name)).toEqual(['qemu', 'accelerator', 'setpriv', 'apt-get', 'dpkg-deb', 'package lists', 'swtpm', 'ovmf', 'efi stub', 'objcopy', 'mformat', 'virtiofsd', 'bwrap']);
    expect(report.checks.find((c) => c.name === 'qemu')?.detail).toMatch(/qemu-system-x86_64 \d+\.\d+/);
    for (const c of report.checks.filter((x) => x.name !== 'accelerator')) expect(c.fix).toMatch(/^apt-get /);
    expect(report.ok).toBe(true);
    expect(res.code).toBe(0);
  });

  it('names the missing QEMU and the command that installs it', async () => {
    process.env.TOPO_QEMU = 'qemu-system-nonexistent';
    try {
      const res = await runCli('doctor');
      expect(res.code).toBe(1);
      expect(res.stdout).toMatch(/FAIL {2}qemu: qemu-system-nonexistent not found\n {6}fix: apt-get install qemu-system-x86/);
    } finally {
      delete process.env.TOPO_QEMU;
    }
  });
});
