// `topo exec`, `topo cp`, `topo console`, `topo logs` and `topo channel` as a user types them, against a lab of fake
// QEMUs whose nodes run the real guest agent (busybox): the CLI runs as a child, through the control socket.
import { randomBytes } from 'node:crypto';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, topo, topoArgv, waitForOutput } from '../helpers/cli.js';
import { startFakeLab, type FakeLab } from './fake-lab.js';

let f: FakeLab;
let env: Record<string, string>;
beforeAll(async () => {
  f = await startFakeLab('clinode');
  env = { ...f.env, TOPO_RUN_DIR: f.base };
});
afterAll(() => f?.stop());

describe('topo exec', () => {
  it('passes stdin in, keeps stdout and stderr apart, and exits with the command exit code', async () => {
    const r = await topo(['exec', 'a', '--', 'sh', '-c', 'cat; echo err >&2; exit 7'], env, { input: 'from stdin\n' });
    expect({ code: r.exitCode, out: r.stdout, err: r.stderr }).toEqual({ code: 7, out: 'from stdin', err: 'err' });
  });

  it('one word is a shell command line; the lab may be named first', async () => {
    const r = await topo(['exec', 'clinode', 'b', '--', 'echo $((6*7)) | tr 4 X'], env);
    expect({ code: r.exitCode, out: r.stdout }).toEqual({ code: 0, out: 'X2' });
  });

  it('--timeout kills the command and exits 124 with one line saying so', async () => {
    const r = await topo(['exec', 'a', '--timeout', '1s', '--', 'echo started; sleep 30'], env);
    expect({ code: r.exitCode, out: r.stdout, err: r.stderr }).toEqual({ code: 124, out: 'started', err: 'topo: a: command timed out after 1 second and was killed' });
  });
});

describe('topo cp', () => {
  it('up keeps bytes and mode; down keeps bytes, drops setuid and applies the umask', async () => {
    const local = path.join(f.base, 'cli-up');
    const data = randomBytes(3000);
    await writeFile(local, data);
    await chmod(local, 0o741);
    const guest = path.join(f.base, 'cli-guest');
    const up = await topo(['cp', local, `a:${guest}`], env);
    expect({ code: up.exitCode, err: up.stderr }).toEqual({ code: 0, err: `${local} -> a:${guest} (3000 bytes)` });
    expect((await f.lab.exec('a', ['stat', '-c', '%a', guest])).stdout.toString()).toBe('741\n');

    await f.lab.exec('a', ['chmod', '4755', guest]);
    const back = path.join(f.base, 'cli-down');
    // The umask of the user running topo, as for cp.
    const down = await execa('sh', ['-c', 'umask 077; exec "$@"', 'sh', ...topoArgv(['cp', `a:${guest}`, back])], { cwd: repoRoot, reject: false, env });
    expect({ code: down.exitCode, err: down.stderr }).toEqual({ code: 0, err: `a:${guest} -> ${back} (3000 bytes)` });
    expect((await readFile(back)).equals(data)).toBe(true);
    expect((await stat(back)).mode & 0o7777).toBe(0o700);
  });
});

describe('topo console, logs and channel', () => {
  it('console: piped input is typed into the console and what it prints comes back', async () => {
    const r = await topo(['console', 'b'], env, { input: 'typed-at-the-console\r' });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^typed-at-the-console\r?$/m);
    expect(r.stderr).toMatch(/^topo: connected to b's console in lab clinode/);
  });

  it('logs: the console output so far; --tail N its last lines', async () => {
    const all = await topo(['logs', 'a'], env);
    expect(all.exitCode).toBe(0);
    expect(all.stdout).toMatch(/^booting a\r?$/m);
    expect(all.stdout).toMatch(/^topo-guest: ready [0-9a-f]+\r?$/m);
    const con = f.lab.node('a').console();
    con.write('last-line-typed\r');
    await f.lab.node('a').waitForConsole(/^last-line-typed$/);
    con.destroy();
    const tail = await topo(['logs', 'a', '--tail', '1'], env);
    expect(tail.stdout.replace(/\r/g, '')).toBe('last-line-typed');
  });

  it('channel: stdin goes to the guest program, its answer to stdout (the fake echoes)', async () => {
    const child = topo(['channel', 'a', 'data'], env, { input: 'over the channel\n' });
    await waitForOutput(child, /over the channel/);
    child.kill('SIGTERM');
    expect((await child).stdout).toBe('over the channel');
  });
});
