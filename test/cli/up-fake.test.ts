// `topo up` CLI paths that need a QEMU misbehaving on demand: the fake QEMU fixture stands in.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { topo, waitForOutput } from '../helpers/cli.js';

const fake = fileURLToPath(new URL('../fixtures/fake-qemu.mjs', import.meta.url));
let base: string;
let file: string;

beforeEach(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-fakecli-'));
  file = path.join(base, 'lab.yaml');
  const vm = `{ kernel: ${JSON.stringify(fake)}, host_network: false, ready: { console: "fake: ready", timeout: 10s } }`;
  await writeFile(file, `name: fakecli\nnodes:\n  a: ${vm}\n  b: ${vm}\nlinks:\n  - endpoints: [a:eth0, b:eth0]\n`);
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

const pidsOf = (out: string) => [...out.matchAll(/"pid":(\d+)|booting \(pid (\d+)\)/g)].map((m) => Number(m[1] ?? m[2]));

describe('topo up with a fake QEMU', () => {
  it('a second Ctrl-C forces the stop of VMs that ignore quit and SIGTERM', async () => {
    const child = topo(['up', file, '--run-dir', base], { TOPO_QEMU: fake, FAKE_QEMU_MODE: 'stubborn' });
    const pids = pidsOf(await waitForOutput(child, /all 2 nodes ready/));
    child.kill('SIGINT');
    await waitForOutput(child, /a: stopping/);
    child.kill('SIGINT');
    const result = await child;
    expect(result.all).toMatch(/forcing stop/);
    // Escalating does not restart the story: one "stopping" and one "stopped" per node.
    expect(result.all?.match(/^a: stopped$/gm)).toHaveLength(1);
    expect(result.all?.match(/^b: stopping$/gm)).toHaveLength(1);
    expect(result.exitCode).toBe(0);
    expect(pids.filter((p) => existsSync(`/proc/${p}`))).toEqual([]);
    expect(existsSync(path.join(base, 'fakecli'))).toBe(false);
  });

  it('--json prints one JSON event per line and keeps human text off stdout', async () => {
    const child = topo(['up', file, '--run-dir', base, '--json'], { TOPO_QEMU: fake });
    await waitForOutput(child, /"state":"ready","at":\d+,"detail":"all 2 nodes ready"/);
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode).toBe(0);
    const events = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; state?: string; node?: string });
    expect(events.filter((e) => e.type === 'node' && e.state === 'ready').map((e) => e.node).sort()).toEqual(['a', 'b']);
    expect(events.at(-1)).toMatchObject({ type: 'lab', state: 'stopped' });
    expect(result.stderr).toMatch(/press Ctrl-C/);
  });

  it('--follow prefixes console lines with the node name; --keep keeps the logs', async () => {
    const child = topo(['up', file, '--run-dir', base, '--follow', '--keep'], { TOPO_QEMU: fake });
    const out = await waitForOutput(child, /all 2 nodes ready/);
    expect(out).toMatch(/^a \| booting a$/m);
    expect(out).toMatch(/^b \| fake: ready b$/m);
    child.kill('SIGINT');
    expect((await child).exitCode).toBe(0);
    expect(existsSync(path.join(base, 'fakecli', 'a.log'))).toBe(true);
  });

  it('a QEMU failing at launch: one error line with its stderr, exit 1, nothing left', async () => {
    const result = await topo(['up', file, '--run-dir', base], { TOPO_QEMU: fake, FAKE_QEMU_MODE: 'crash' });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/^topo: error: [ab]: QEMU exited with code 1 before it became ready: .*fake failure/m);
    expect(result.stderr).toMatch(/qemu stderr:/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(path.join(base, 'fakecli'))).toBe(false);
  });

  it("a failure report's console tail leaves out microvm's harmless \"PCI: Fatal\" line", async () => {
    await writeFile(file, `name: fakecli\nnodes:\n  a: { kernel: ${JSON.stringify(fake)}, host_network: false, ready: { console: "fake: ready", timeout: 2s } }\n`);
    const pci = '[    0.984239] PCI: Fatal: No config space access function found';
    const result = await topo(['up', file, '--run-dir', base], { TOPO_QEMU: fake, FAKE_QEMU_MODE: 'never-ready', FAKE_QEMU_SAY_LATER: pci });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/console \(last lines\):\n\s+booting a\n?$/);
    expect(result.stderr).not.toMatch(/PCI: Fatal/);
  });

  it('up --detach of an invalid file: one file:line:col line, and the early-started supervisor is gone', async () => {
    await writeFile(file, 'name: fakecli\nnodes:\n  a: { memroy: 1G }\n');
    const result = await topo(['up', '--detach', file, '--run-dir', base]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/lab\.yaml:3:\d+: error: .*memory/)]);
    await expect.poll(() => supervisorsOf(file), { timeout: 5000 }).toEqual([]);
    expect(existsSync(path.join(base, 'fakecli'))).toBe(false);
  });
});

/** pids of background supervisors started for `file` (`topo up FILE --supervise`). */
function supervisorsOf(file: string): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      return argv.includes('--supervise') && argv.includes(file);
    } catch {
      return false;
    }
  }).map(Number);
}
