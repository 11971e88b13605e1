// uefi wiring against the fake QEMU: OVMF variable store per node, disk format, QMP readiness, swtpm lifetime.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SupervisorEvent } from '../../src/api/events.js';
import { up } from '../../src/control/up.js';
import { detectDiskFormat } from '../../src/machine/uefi.js';
import { node, topology } from '../helpers/model.js';

const fake = fileURLToPath(new URL('../fixtures/fake-qemu.mjs', import.meta.url));
let base: string;

beforeEach(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-uefi-fake-'));
  process.env.TOPO_QEMU = fake;
});
afterEach(async () => {
  delete process.env.TOPO_QEMU;
  await rm(base, { recursive: true, force: true });
});

describe('uefi nodes with a fake QEMU', () => {
  it('detects qcow2 by its magic, anything else is raw', async () => {
    await writeFile(path.join(base, 'q'), Buffer.concat([Buffer.from('QFI\xfb', 'latin1'), Buffer.alloc(60)]));
    await writeFile(path.join(base, 'r'), Buffer.alloc(1024));
    expect(await detectDiskFormat(path.join(base, 'q'))).toBe('qcow2');
    expect(await detectDiskFormat(path.join(base, 'r'))).toBe('raw');
  });

  it('is ready once QMP greets, runs a swtpm per TPM node, and down reaps both', async () => {
    const disk = path.join(base, 'disk.img');
    await writeFile(disk, Buffer.alloc(1024));
    const fw = node('fw', { kind: 'uefi', disk, tpm: { interface: 'crb' } });
    const lab = await up(topology([fw], { name: 'uefi-fake' }), { accel: 'tcg', runDirBase: base });
    try {
      const proc = lab.supervisor.process('fw')!;
      expect(lab.supervisor.node('fw').state).toBe('ready');
      expect(existsSync(lab.runDir.file('fw.vars.fd'))).toBe(true);
      expect(existsSync(lab.runDir.file('fw.tpm'))).toBe(true);
      expect(existsSync(`/proc/${proc.swtpmPid}`)).toBe(true);
      const pids = [proc.pid!, proc.swtpmPid!];
      await lab.down();
      for (const pid of pids) expect(existsSync(`/proc/${pid}`)).toBe(false);
      expect(existsSync(lab.runDir.path)).toBe(false);
    } finally {
      await lab.down({ force: true });
    }
  });

  it('a swtpm killed under a running node fails the node with that reason (it is supervised)', async () => {
    const disk = path.join(base, 'disk.img');
    await writeFile(disk, Buffer.alloc(1024));
    const fw = node('fw', { kind: 'uefi', disk, tpm: { interface: 'crb' } });
    const events: SupervisorEvent[] = [];
    const lab = await up(topology([fw], { name: 'uefi-tpm-dies' }), { accel: 'tcg', runDirBase: base, onEvent: (e) => events.push(e) });
    try {
      const proc = lab.supervisor.process('fw')!;
      const qemu = proc.pid!;
      process.kill(proc.swtpmPid!, 'SIGKILL');
      const failure = await lab.failure;
      expect(failure.message).toBe('swtpm was killed by SIGKILL');
      expect(failure.node).toBe('fw');
      expect(events.some((e) => e.type === 'node' && e.node === 'fw' && e.state === 'failed')).toBe(true);
      await proc.exited;
      expect(existsSync(`/proc/${qemu}`)).toBe(false);
    } finally {
      await lab.down({ force: true });
    }
  });

  it('a disk that is not there fails before anything starts', async () => {
    const fw = node('fw', { kind: 'uefi', disk: path.join(base, 'missing.img') });
    await expect(up(topology([fw], { name: 'uefi-missing' }), { accel: 'tcg', runDirBase: base })).rejects.toMatchObject({ code: 'E_UNREADABLE', node: 'fw' });
  });
});
