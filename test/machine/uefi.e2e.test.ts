// End to end under TCG: a uefi node (OVMF, swtpm, topo's ESP as its disk) linked to a microvm, in one lab boot.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEsp } from '../../src/guest/esp.js';
import { type Lab } from '../../src/runtime/lab.js';
import { up } from '../../src/control/up.js';
import { loadTopology } from '../../src/topology/index.js';

let lab: Lab;
let base: string;
let esp: string;
let espHash: string;

const sha = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

const TOPOLOGY = `
name: e2e-uefi
nodes:
  fw:
    kind: uefi
    disk: ./esp.img
    tpm: true
    ready: { console: "topo-guest: ready" }
  peer: {}
links:
  - endpoints: [fw:eth1, peer:eth1]
    addresses: [10.0.98.1/24, 10.0.98.2/24]
`;

beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-e2e-uefi-'));
  esp = (await buildEsp(path.join(base, 'esp.img'))).path;
  espHash = await sha(esp);
  await writeFile(path.join(base, 'uefi.yaml'), TOPOLOGY);
  const loaded = await loadTopology(path.join(base, 'uefi.yaml'));
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.diagnostics));
  lab = await up(loaded.topology, { accel: 'tcg', runDirBase: path.join(base, 'run') });
});

afterAll(async () => {
  await lab?.down({ force: true });
  await rm(base, { recursive: true, force: true });
});

const sh = async (node: string, cmd: string) => {
  const r = await lab.exec(node, cmd, { timeoutMs: 20_000 });
  return { code: r.exitCode, out: r.stdout.toString('utf8').trim(), err: r.exitCode === 0 ? '' : r.stderr.toString('utf8') };
};

describe('topo up: a uefi node booting topo\'s ESP', () => {
  it('boots through OVMF into the default guest, with its configuration and agent', async () => {
    expect(lab.supervisor.nodes().map((n) => n.state)).toEqual(['ready', 'ready']);
    expect(await sh('fw', 'hostname')).toEqual({ code: 0, out: 'fw', err: '' });
    expect(await sh('fw', 'test -d /sys/firmware/efi && echo efi')).toMatchObject({ code: 0, out: 'efi' });
  });

  it('sees the TPM served by swtpm', async () => {
    expect(await sh('fw', 'ls /sys/class/tpm/tpm0 >/dev/null && cat /sys/class/tpm/tpm0/tpm_version_major')).toMatchObject({ code: 0, out: '2' });
  });

  it('reaches the microvm peer over the link', async () => {
    expect(await sh('fw', 'ping -c 1 -W 3 10.0.98.2')).toMatchObject({ code: 0 });
  });

  it('writes to the disk go to a snapshot overlay, not to the image', async () => {
    // The last 512 bytes of the image are past the FAT file system: a write there is visible in the guest only.
    const sectors = Number((await sh('fw', 'cat /sys/block/vda/size')).out);
    expect(sectors).toBeGreaterThan(0);
    const at = sectors - 1;
    expect(await sh('fw', `echo topo-snapshot | dd of=/dev/vda bs=512 seek=${at} conv=fsync 2>/dev/null && sync`)).toMatchObject({ code: 0 });
    expect(await sh('fw', `echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda bs=512 skip=${at} count=1 2>/dev/null | head -c 14`)).toMatchObject({ out: 'topo-snapshot' });
  });

  it('down stops QEMU and swtpm, removes the run directory, and the image is unchanged', async () => {
    const fw = lab.supervisor.process('fw')!;
    const pids = lab.supervisor.nodes().map((n) => n.pid!);
    expect(fw.swtpmPid).toBeGreaterThan(0);
    pids.push(fw.swtpmPid!);
    for (const pid of pids) expect(existsSync(`/proc/${pid}`)).toBe(true);
    await lab.down();
    for (const pid of pids) expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(existsSync(lab.runDir.path)).toBe(false);
    expect(await sha(esp)).toBe(espHash);
  });
});
