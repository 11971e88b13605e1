// End to end under TCG: what the Go launcher could do — in-place reboots, panics restarted, uefi without a disk
// (the cached ESP) with prepared TPM state, fw_cfg strings, and the persistent EFI variable store.
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEsp } from '../../src/guest/esp.js';
import type { SupervisorEvent } from '../../src/api/events.js';
import { type Lab } from '../../src/runtime/lab.js';
import { up } from '../../src/control/up.js';
import { prepareTpmState } from '../../src/machine/swtpm.js';
import { loadTopology } from '../../src/topology/index.js';
import { until } from '../helpers/wait.js';

let base: string;
beforeAll(async () => void (base = await mkdtemp(path.join(os.tmpdir(), 'topo-e2e-launcher-'))));
afterAll(() => rm(base, { recursive: true, force: true }));

async function boot(name: string, yaml: string, events: SupervisorEvent[] = []): Promise<Lab> {
  const file = path.join(base, `${name}.yaml`);
  await writeFile(file, yaml);
  const loaded = await loadTopology(file);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.diagnostics));
  return up(loaded.topology, { accel: 'tcg', runDirBase: path.join(base, 'run'), onEvent: (e) => events.push(e) });
}

const sh = async (lab: Lab, node: string, cmd: string) => {
  const r = await lab.exec(node, cmd, { timeoutMs: 30_000 });
  return { code: r.exitCode, out: r.stdout.toString('utf8').trim() };
};

const wait = (what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 120_000) => until(what, cond, { timeoutMs, intervalMs: 250 });

async function dirDigest(dir: string): Promise<string> {
  const h = createHash('sha256');
  for (const f of (await readdir(dir)).sort()) h.update(f).update(await readFile(path.join(dir, f)));
  return h.digest('hex');
}

describe('reboots and panics on microvm', () => {
  let lab: Lab;
  const events: SupervisorEvent[] = [];
  beforeAll(async () => {
    lab = await boot('reboots', `
name: e2e-reboots
nodes:
  r1: { allow_reboot: true }
  r2: { restart: on-failure }
  r3: { fw_cfg: { opt/org.example/greeting: { string: "hello, fw_cfg" } } }
links:
  - endpoints: [r1:eth1, r2:eth1]
    addresses: [10.0.91.1/24, 10.0.91.2/24]
  - endpoints: [r2:eth2, r3:eth1]
    addresses: [10.0.92.2/24, 10.0.92.3/24]
`, events);
  }, 240_000);
  afterAll(() => lab?.down({ force: true }));

  it('a string fw_cfg entry is readable in the guest', async () => {
    expect(await sh(lab, 'r3', 'cat /sys/firmware/qemu_fw_cfg/by_name/opt/org.example/greeting/raw')).toEqual({ code: 0, out: 'hello, fw_cfg' });
  });

  it('allow_reboot: `reboot` comes back in the same QEMU with its links working', async () => {
    const pid = lab.supervisor.node('r1').pid;
    const boots = () => events.filter((e) => e.type === 'console' && e.node === 'r1' && e.line.startsWith('topo-guest: ready')).length;
    const before = boots();
    // The agent that took these is gone with the old kernel: both fail when the reboot shows, not at their reply
    // timeout (10 minutes for a command without one).
    const pending = lab.exec('r1', 'touch /tmp/sleeping; sleep 600').catch((e: unknown) => e);
    await wait('r1 to run the sleeping command', async () => (await sh(lab, 'r1', 'test -e /tmp/sleeping')).code === 0);
    const rebooting = lab.exec('r1', 'reboot -f', { timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(await pending).toMatchObject({ code: 'E_AGENT', message: expect.stringMatching(/^the guest rebooted before it answered/) });
    expect(await rebooting).toMatchObject({ code: 'E_AGENT', message: expect.stringMatching(/rebooted/) });
    await wait('r1 to boot again', () => boots() > before);
    expect(lab.supervisor.node('r1').pid).toBe(pid);
    expect(lab.supervisor.node('r1').state).toBe('ready');
    await wait('r1 to ping 10.0.91.2', async () => (await sh(lab, 'r1', 'ping -c 1 -W 2 10.0.91.2').catch(() => ({ code: 1 }))).code === 0, 60_000);
  }, 180_000);

  it('restart: on-failure brings a panicked node back, and it pings its neighbour again', async () => {
    const pid = lab.supervisor.node('r2').pid;
    await lab.exec('r2', 'echo c > /proc/sysrq-trigger', { timeoutMs: 5_000 }).catch(() => undefined);
    await wait('r2 restarting', () => events.some((e) => e.type === 'node' && e.node === 'r2' && e.state === 'restarting'));
    const restarting = events.find((e) => e.type === 'node' && e.node === 'r2' && e.state === 'restarting');
    expect(restarting).toMatchObject({ detail: expect.stringContaining('the guest kernel panicked') });
    await wait('r2 ready in a new QEMU', () => lab.supervisor.node('r2').state === 'ready' && lab.supervisor.node('r2').pid !== pid);
    await wait('r2 to ping 10.0.92.3', async () => (await sh(lab, 'r2', 'ping -c 1 -W 2 10.0.92.3').catch(() => ({ code: 1 }))).code === 0, 60_000);
  }, 180_000);
});

describe('uefi without a disk, with prepared TPM state and packages:', () => {
  let lab: Lab;
  let tpmDir: string;
  let digest: string;
  beforeAll(async () => {
    tpmDir = path.join(base, 'tpm-state');
    await mkdir(tpmDir);
    await prepareTpmState('prep', tpmDir, undefined);
    digest = await dirDigest(tpmDir);
    lab = await boot('uefi', `
name: e2e-uefi-bare
nodes:
  fw: { kind: uefi, tpm: { state: ./tpm-state }, packages: [iperf3], files: { /etc/motd: { string: "uefi files\\n" } } }
`);
  }, 300_000);
  afterAll(() => lab?.down({ force: true }));

  it('runs packages: from its layer (virtio-blk-pci on q35) and has its files:', async () => {
    expect(await sh(lab, 'fw', 'iperf3 --version | head -c 8; cat /etc/motd; grep -c " erofs " /proc/mounts')).toEqual({ code: 0, out: 'iperf 3.uefi files\n1' });
  });

  it('boots to the guest\'s ready line, sees /dev/tpm0 and EFI, and leaves DIR byte-identical', async () => {
    expect(await sh(lab, 'fw', 'test -e /dev/tpm0 && test -d /sys/firmware/efi && echo ok')).toEqual({ code: 0, out: 'ok' });
    await lab.down();
    expect(await dirDigest(tpmDir)).toBe(digest);
  });
});

describe('uefi persist', () => {
  it('keeps an EFI variable written in one run into the next (<disk>.vars)', async () => {
    const esp = (await buildEsp(path.join(base, 'persist', 'esp.img'))).path;
    await cp(esp, esp + '.orig');
    const yaml = `
name: e2e-persist
nodes:
  fw: { kind: uefi, disk: ./persist/esp.img, persist: true, ready: { console: "topo-guest: ready" } }
`;
    const guid = '3a1b2c4d-1111-2222-3333-444455556666';
    const first = await boot('persist', yaml);
    try {
      expect((await sh(first, 'fw', `printf '\\x07\\x00\\x00\\x00hello' > /sys/firmware/efi/efivars/TopoTest-${guid} && echo ok`)).out).toBe('ok');
    } finally {
      await first.down();
    }
    const second = await boot('persist', yaml);
    try {
      expect(await sh(second, 'fw', `tail -c 5 /sys/firmware/efi/efivars/TopoTest-${guid}`)).toEqual({ code: 0, out: 'hello' });
    } finally {
      await second.down();
    }
  }, 400_000);
});

describe('console: virtio', () => {
  it('a custom-kernel node printing on hvc0 (virtconsole) reaches its ready.console pattern; its console takes input', async () => {
    const { ensureGuest } = await import('../../src/guest/index.js');
    // The default guest's kernel and initramfs used as "your own kernel": its console shell runs on hvc0 here.
    const guest = await ensureGuest();
    const lab = await boot('vcon', `
name: e2e-vcon
nodes:
  k: { kernel: ${JSON.stringify(guest.kernel)}, initrd: ${JSON.stringify(guest.initrd)}, console: virtio, host_network: false, memory: 192M, ready: { console: "built-in shell \\\\(ash\\\\)" } }
`);
    try {
      expect(lab.supervisor.node('k').state).toBe('ready');
      expect(lab.supervisor.process('k')!.tails().consoleTail).toMatch(/built-in shell \(ash\)/);
      const seen = lab.node('k').waitForConsole(/hvc-\d+/, { timeout: 60_000 });
      const con = lab.node('k').console();
      con.write('echo hvc-$((40+2))\r');
      expect(await seen).toMatch(/hvc-42/);
      con.destroy();
    } finally {
      await lab.down();
      await guest.release();
    }
  }, 240_000);
});
