// `topo cp` both ways and `topo bundle` against a detached lab, through the CLI.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listFiles } from '../../src/scenario/bundle.js';
import { topo } from '../helpers/cli.js';

let base: string;
const run = (args: string[]) => topo(args, { TOPO_RUN_DIR: base });

beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-cp-'));
  const file = path.join(base, 'cpl.yaml');
  await writeFile(file, 'name: cpl\ndefaults: { memory: 192M }\nnodes:\n  a: {}\n  b: { memory: 512M }\nlinks:\n  - endpoints: [a:eth1, b:eth1]\n');
  const up = await run(['up', '--detach', file, '--accel', 'tcg']);
  expect(up.exitCode).toBe(0);
});

afterAll(async () => {
  await run(['down', '--all']);
  await rm(base, { recursive: true, force: true });
});

describe('topo cp and topo bundle on a running lab', () => {
  it('copies a binary file up and back byte-exact, keeping its mode', async () => {
    const local = path.join(base, 'blob.bin');
    const data = randomBytes(70_000);
    await writeFile(local, data);
    await chmod(local, 0o640);
    const upRes = await run(['cp', local, 'a:/tmp/blob.bin']);
    expect(upRes.exitCode).toBe(0);
    const mode = await run(['exec', 'a', '--', 'stat -c %a /tmp/blob.bin']);
    expect(mode.stdout.trim()).toBe('640');
    const back = path.join(base, 'out/back.bin');
    const down = await run(['cp', 'cpl', 'a:/tmp/blob.bin', back]);
    expect(down.exitCode).toBe(0);
    expect((await readFile(back)).equals(data)).toBe(true);
    expect((await stat(back)).mode & 0o777).toBe(0o640);
  });

  it('from a guest, as cp without -p: a symlink followed, the mode masked by the umask without setuid, into a directory', async () => {
    const made = await run(['exec', 'a', '--', 'printf secret > /tmp/suid && chmod 4777 /tmp/suid && ln -sf /tmp/suid /tmp/link']);
    expect(made.exitCode).toBe(0);
    const into = path.join(base, 'into');
    await mkdir(into);
    const umask = process.umask(0o027);
    try {
      const res = await run(['cp', 'a:/tmp/link', `${into}/`]);
      expect(res.exitCode, res.stderr).toBe(0);
    } finally {
      process.umask(umask);
    }
    expect(await readFile(path.join(into, 'link'), 'utf8')).toBe('secret');
    expect((await stat(path.join(into, 'link'))).mode & 0o7777).toBe(0o750);
  });

  it('takes more than 48 MB of stdin (base64 over 64 MiB), and refuses over 64 MiB at once with E_TOO_LARGE', async () => {
    const ok = topo(['exec', 'b', '--', 'wc -c'], { TOPO_RUN_DIR: base }, { input: Buffer.alloc(50 * 1024 * 1024, 0x61) });
    const r = await ok;
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(String(50 * 1024 * 1024));
    const over = await topo(['exec', 'b', '--', 'wc -c'], { TOPO_RUN_DIR: base }, { input: Buffer.alloc(64 * 1024 * 1024 + 1) });
    expect(over.exitCode).toBe(1);
    expect(over.stderr).toMatch(/stdin is over 67108864 bytes; an exec takes at most 64 MiB/);
  }, 600_000);

  it('exec output: 1 MB arrives whole through a pipe; 200 MB fails with E_OUTPUT_LIMIT instead of growing the runner', async () => {
    const mb = await run(['exec', 'b', '--', 'head -c 1000000 /dev/zero']);
    expect(mb.exitCode).toBe(0);
    expect(mb.stdout.length).toBe(1_000_000);
    const huge = await run(['exec', 'b', '--', 'head -c 200000000 /dev/zero']);
    expect(huge.exitCode).toBe(1);
    expect(huge.stderr).toMatch(/is over 64 MiB \(stdout and stderr together\); it was dropped/);
  }, 600_000);

  it('names what is wrong: a missing guest file, two host paths', async () => {
    const missing = await run(['cp', 'a:/nope', path.join(base, 'x')]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toMatch(/cannot read a:\/nope: not a regular file/);
    const usage = await run(['cp', './x', './y']);
    expect(usage.exitCode).toBe(2);
    expect(usage.stderr).toMatch(/neither is a guest path/);
  });

  it('writes a bundle of the running lab with every node log', async () => {
    const out = path.join(base, 'hand.tar.gz');
    const res = await run(['bundle', '-o', out]);
    expect(res.exitCode).toBe(0);
    expect(res.stdout.trim()).toBe(out);
    const dir = path.join(base, 'hand');
    await mkdir(dir);
    await tar.x({ file: out, cwd: dir });
    const files = await listFiles(dir);
    for (const f of ['manifest.json', 'scenario.yaml', 'topology.yaml', 'logs/a.log', 'logs/b.log', 'events.jsonl']) expect(files.find((x) => x.file === f)?.size ?? 0, f).toBeGreaterThan(0);
    expect(await readFile(path.join(dir, 'logs/a.log'), 'utf8')).toMatch(/topo-guest: ready/);
  });
});
