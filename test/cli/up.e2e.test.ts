// `topo up` as a user runs it: plain output, Ctrl-C, SIGKILL of topo, a QEMU killed under it.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { topo, waitForOutput } from '../helpers/cli.js';
import { waitUntil } from '../helpers/wait.js';

let base: string;
beforeEach(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-cli-'));
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

const pidsOf = (out: string) => [...out.matchAll(/booting \(pid (\d+)\)/g)].map((m) => Number(m[1]));
const alive = (pid: number) => existsSync(`/proc/${pid}`);

const gone = (pids: number[]) => waitUntil(() => !pids.some(alive), { what: `pids ${pids.join(' ')} to exit`, timeoutMs: 15_000 });

async function pairFile(extra = ''): Promise<string> {
  const file = path.join(base, 'pair.yaml');
  await writeFile(
    file,
    `name: cli-pair\nnodes:\n  a: { memory: 192M }\n  b: { memory: 192M${extra} }\nlinks:\n  - endpoints: [a:eth1, b:eth1]\n    addresses: [10.0.0.1/24, 10.0.0.2/24]\n`,
  );
  return file;
}

describe('topo up (CLI)', () => {
  it('prints a line per state change, run: failures and "all N nodes ready"; Ctrl-C leaves no process or run directory', async () => {
    const child = topo(['up', await pairFile(', run: ["echo hi", "exit 3"]'), '--run-dir', base, '--accel', 'tcg']);
    const out = await waitForOutput(child, /press Ctrl-C to stop/);
    // A failing run: command does not stop the boot, and shows in the output without --follow.
    expect(out).toMatch(/^topo: b: run\[1\] failed with exit code 3: exit 3$/m);
    expect(out).toMatch(/^all 2 nodes ready$/m);
    expect(out).toMatch(/^a: starting$/m);
    expect(out).toMatch(/^b: ready in \d+\.\d s$/m);
    expect(out).toMatch(/logs: /);
    const pids = pidsOf(out);
    expect(pids).toHaveLength(2);
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(0);
    expect(result.all).toMatch(/lab stopped/);
    expect(pids.filter(alive)).toEqual([]);
    expect(await readdir(base)).toEqual(['pair.yaml']);
  });

  it('SIGKILL of topo leaves no QEMU behind', async () => {
    const child = topo(['up', await pairFile(), '--run-dir', base, '--accel', 'tcg']);
    const pids = pidsOf(await waitForOutput(child, /all 2 nodes ready/));
    child.kill('SIGKILL');
    await child;
    expect(await gone(pids)).toBe(true);
  });

  it('a QEMU killed under a running lab is reported with its tail and topo exits non-zero', async () => {
    const child = topo(['up', await pairFile(), '--run-dir', base, '--accel', 'tcg']);
    const pids = pidsOf(await waitForOutput(child, /all 2 nodes ready/));
    process.kill(pids[1]!, 'SIGKILL');
    const result = await child;
    expect(result.exitCode).toBe(1);
    expect(result.all).toMatch(/error: b: QEMU was killed by SIGKILL unexpectedly/);
    expect(pids.filter(alive)).toEqual([]);
  });

  it('with restart: on-failure a killed QEMU is brought back', async () => {
    const child = topo(['up', await pairFile(', restart: on-failure'), '--run-dir', base, '--accel', 'tcg']);
    const pids = pidsOf(await waitForOutput(child, /all 2 nodes ready/));
    process.kill(pids[1]!, 'SIGKILL');
    const out = await waitForOutput(child, /b: restarting[\s\S]*b: ready in/);
    expect(out).toMatch(/b: restarting: QEMU was killed by SIGKILL/);
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode).toBe(0);
    expect(await gone(pidsOf(result.all ?? ''))).toBe(true);
  });

  it('an explicit host port already in use is rejected before any VM starts', async () => {
    const net = await import('node:net');
    const server = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as { port: number }).port;
    const file = await pairFile(`, ports: ["${port}:22"]`);
    const result = await topo(['up', file, '--run-dir', base, '--accel', 'tcg']);
    server.close();
    expect(result.exitCode).toBe(1);
    expect(result.all).toMatch(new RegExp(`b: host port ${port}/tcp .* is already in use`));
    expect(result.all).not.toMatch(/starting/);
  });

  it('an invalid file is rejected with file:line:col before anything starts', async () => {
    const file = path.join(base, 'bad.yaml');
    await writeFile(file, 'name: bad\nnodes:\n  a: { memroy: 1G }\n');
    const result = await topo(['up', file, '--run-dir', base]);
    expect(result.exitCode).toBe(1);
    expect(result.all).toMatch(/bad\.yaml:3:\d+: error: .*memory/);
  });
});
