// A reader that goes away (`| tee` killed by the same Ctrl-C, `| head -1`) never stops a teardown or fails a success.
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { repoRoot, topo, topoArgv } from '../helpers/cli.js';
import { isRunning } from '../helpers/proc.js';
import { until } from '../helpers/wait.js';

const fake = fileURLToPath(new URL('../fixtures/fake-qemu.mjs', import.meta.url));
let base: string;
let file: string;
let log: string;

beforeEach(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-pipe-'));
  file = path.join(base, 'lab.yaml');
  log = path.join(base, 'fake.log');
  const vm = `{ kernel: ${JSON.stringify(fake)}, host_network: false, ready: { console: "fake: ready", timeout: 20s } }`;
  await writeFile(file, `name: pipe\nnodes:\n  a: ${vm}\n  b: ${vm}\nlinks:\n  - endpoints: [a:eth0, b:eth0]\n`);
});
afterEach(async () => {
  await topo(['down', '--all', '--run-dir', base]);
  for (const pid of await fakePids()) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
  await rm(base, { recursive: true, force: true });
});

async function fakePids(): Promise<number[]> {
  return [...(await readFile(log, 'utf8').catch(() => '')).matchAll(/ pid (\d+)$/gm)].map((m) => Number(m[1]));
}
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * `topo ARGS 2>ERR | READER` in bash as a terminal's foreground job: its own process group, a shell that survives
 * Ctrl-C (as an interactive one does) and records topo's exit status.
 */
function pipeline(args: string[], reader: string) {
  const status = path.join(base, 'status');
  const err = path.join(base, 'stderr');
  const script = `trap : INT; ${topoArgv(args).map(q).join(' ')} 2>${q(err)} | ${reader}; echo "\${PIPESTATUS[0]}" >${q(status)}`;
  const child = execa('bash', ['-c', script], { cwd: repoRoot, detached: true, reject: false, env: { TOPO_QEMU: fake, FAKE_QEMU_LOG: log, CI: '1', NO_COLOR: '1' } });
  return {
    child,
    result: async () => {
      await child;
      return { status: Number((await readFile(status, 'utf8')).trim()), stderr: await readFile(err, 'utf8') };
    },
  };
}

describe('stdout closed under topo', () => {
  it('`topo up FILE | tee log`, Ctrl-C to the group: tee dies first, topo still tears down completely and exits 0', async () => {
    const teeLog = path.join(base, 'tee.log');
    const run = pipeline(['up', file, '--run-dir', base], `tee ${q(teeLog)} >/dev/null`);
    await until('"all 2 nodes ready" in the tee log', async () => /all 2 nodes ready/.test(await readFile(teeLog, 'utf8').catch(() => '')), { timeoutMs: 20_000, intervalMs: 50 });
    process.kill(-run.child.pid!, 'SIGINT');
    const { status, stderr } = await run.result();
    expect(stderr).not.toMatch(/EPIPE|\n\s+at /);
    expect(status).toBe(0);
    expect(existsSync(path.join(base, 'pipe'))).toBe(false);
    expect((await fakePids()).filter(isRunning)).toEqual([]);
    expect((await readFile(log, 'utf8')).match(/ quit$/gm)).toHaveLength(2);
  });

  it('`topo up --detach FILE | head -1` exits 0 without a stack trace, and the lab is up', async () => {
    const run = pipeline(['up', '--detach', file, '--run-dir', base], 'head -1 >/dev/null');
    const { status, stderr } = await run.result();
    expect(stderr).toBe('');
    expect(status).toBe(0);
    const ps = await topo(['ps', '--run-dir', base, '--json']);
    expect(JSON.parse(ps.stdout)).toMatchObject([{ lab: 'pipe', state: 'ready' }]);
  });
});
