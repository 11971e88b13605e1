// A detached lab driven only through the CLI: up --detach, ps, exec, link, channel, console (through a pty), logs, down, stale.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, topo } from '../helpers/cli.js';
import { isRunning } from '../helpers/proc.js';
import { waitUntil } from '../helpers/wait.js';

let base: string;
let file: string;
// TOPO_RUN_DIR rather than --run-dir: words after `--` belong to the guest's command.
const run = (args: string[], input?: string | Buffer) => topo(args, { TOPO_RUN_DIR: base }, { input });
const entry = path.join(repoRoot, 'test/helpers/topo-entry.ts');
/** The CLI with binary stdout (and stdin when given). */
const runRaw = (args: string[], input?: Buffer) =>
  execa(process.execPath, ['--import', 'tsx', entry, ...args], { reject: false, encoding: 'buffer', env: { TOPO_RUN_DIR: base, CI: '1' }, ...(input ? { input } : { stdin: 'ignore' as const }) });

interface PsLab {
  lab: string;
  state: string;
  pid: number;
  nodes: { name: string; state: string; pid?: number; ports: unknown[] }[];
  links: { id: string; endpoints: string[]; state: string; kind: string }[];
}
const ps = async (): Promise<PsLab[]> => JSON.parse((await run(['ps', '--json'])).stdout) as PsLab[];

beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-ctl-'));
  file = path.join(base, 'ctl.yaml');
  await writeFile(
    file,
    [
      'name: ctl',
      'defaults: { memory: 192M, host_network: false }',
      'nodes:',
      '  a: { channels: [test.chan] }',
      '  b: {}',
      'links:',
      '  - endpoints: [a:eth0, b:eth0]',
      '    addresses: [10.0.12.1/24, 10.0.12.2/24]',
      '',
    ].join('\n'),
  );
  const up = await run(['up', '--detach', file, '--accel', 'tcg']);
  expect(up.stderr).toBe('');
  expect(up.exitCode).toBe(0);
  expect(up.stdout).toMatch(/all 2 nodes ready/);
  expect(up.stdout).toMatch(/running in the background \(pid \d+\)/);
});

afterAll(async () => {
  await run(['down', '--all']);
  await rm(base, { recursive: true, force: true });
});

describe('a detached lab through the CLI', () => {
  it('ps --json shows the lab, its nodes ready with pids, and the link', async () => {
    const [lab] = await ps();
    expect(lab).toMatchObject({ lab: 'ctl', state: 'ready' });
    expect(lab!.nodes.map((n) => [n.name, n.state])).toEqual([['a', 'ready'], ['b', 'ready']]);
    expect(lab!.nodes.every((n) => typeof n.pid === 'number' && isRunning(n.pid))).toBe(true);
    expect(lab!.links).toEqual([{ id: expect.any(String), endpoints: ['a:eth0', 'b:eth0'], state: 'up', kind: 'direct' }]);
    expect((await run(['ps'])).stdout).toMatch(/^ctl\s+ready/m);
  });

  it('exec: exit code, byte-exact stdout and stderr, argv words quoted safely', async () => {
    const r = await runRaw(['exec', 'ctl', 'a', '--', 'sh', '-c', 'printf "o\\001\\377$1"; printf "e r" >&2; exit 3', 'sh', "it's $HOME"]);
    expect(r.exitCode).toBe(3);
    expect(Buffer.from(r.stdout as Uint8Array)).toEqual(Buffer.concat([Buffer.from([0x6f, 1, 0xff]), Buffer.from("it's $HOME")]));
    expect(Buffer.from(r.stderr as Uint8Array).toString()).toBe('e r');
    const line = await run(['exec', 'a', '--', 'echo $(hostname) | tr a-z A-Z']);
    expect(line.stdout).toBe('A');
  });

  it('exec: our stdin reaches the command; a timeout exits 124 and says so', async () => {
    const data = randomBytes(100_000);
    const piped = await runRaw(['exec', 'ctl', 'b', '--', 'cat'], data);
    expect(piped.exitCode).toBe(0);
    expect(Buffer.from(piped.stdout as Uint8Array).equals(data)).toBe(true);
    const slow = await run(['exec', 'ctl', 'a', '--timeout', '1s', '--', 'sleep 30']);
    expect(slow.exitCode).toBe(124);
    expect(slow.stderr).toMatch(/timed out after 1 second/);
  });

  it('link down stops a ping, link up brings it back; ps shows the state', async () => {
    expect((await run(['exec', 'ctl', 'a', '--', 'ping -c1 -W2 10.0.12.2'])).exitCode).toBe(0);
    const down = await run(['link', 'ctl', 'a:eth0', 'down']);
    expect(down.exitCode).toBe(0);
    expect(down.stdout).toMatch(/link \S+ \(a:eth0 b:eth0\) down/);
    expect((await ps())[0]!.links[0]!.state).toBe('down');
    expect((await run(['exec', 'ctl', 'a', '--', 'cat /sys/class/net/eth0/carrier'])).stdout.trim()).toBe('0');
    expect((await run(['exec', 'ctl', 'a', '--', 'ping -c1 -W1 10.0.12.2'])).exitCode).not.toBe(0);
    expect((await run(['link', 'ctl', 'a:eth0', 'up'])).exitCode).toBe(0);
    const back = await run(['exec', 'ctl', 'a', '--', 'for i in 1 2 3 4 5; do ping -c1 -W1 10.0.12.2 && exit 0; done; exit 1']);
    expect(back.exitCode).toBe(0);
  });

  it('channel: bytes from the host reach a guest program and come back intact', async () => {
    const data = randomBytes(4096);
    const prog = '(head -c 4096 /dev/virtio-ports/test.chan > /tmp/got && cat /tmp/got > /dev/virtio-ports/test.chan) >/dev/null 2>&1 &';
    expect((await run(['exec', 'ctl', 'a', '--', prog])).exitCode).toBe(0);
    const chan = runRaw(['channel', 'ctl', 'a', 'test.chan'], data);
    const got: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      chan.stdout!.on('data', (b: Buffer) => {
        got.push(b);
        if (Buffer.concat(got).length >= data.length) resolve();
      });
      void chan.then((r) => reject(new Error(`channel ended early: ${Buffer.from(r.stderr as Uint8Array).toString()}`)));
    });
    chan.kill('SIGTERM');
    await chan;
    expect(Buffer.concat(got).equals(data)).toBe(true);
    expect((await run(['exec', 'ctl', 'a', '--', 'md5sum < /tmp/got'])).stdout).toContain(await md5(data));
  });

  it('console: a shell prompt, a command typed through a pty, Ctrl-] leaves', async () => {
    const cmd = [process.execPath, '--import', 'tsx', entry, 'console', 'ctl', 'a', '--run-dir', base].map((w) => `'${w}'`).join(' ');
    const script = execa('script', ['-qfec', cmd, '/dev/null'], { reject: false, cwd: repoRoot, stdin: 'pipe' });
    let out = '';
    script.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    const until = (re: RegExp) => waitUntil(() => re.test(out), { what: `${re} on the console`, timeoutMs: 30_000 }).then(() => expect(out).toMatch(re));
    await until(/Ctrl-\] leaves/);
    script.stdin!.write('\r');
    await until(/a:.*# /);
    script.stdin!.write('echo hi-$((6*7))\r');
    await until(/hi-42/);
    script.stdin!.write('\x1d');
    const r = await script;
    expect(r.exitCode).toBe(0);
    expect(out).toMatch(/console closed/);
  });

  it('console without a terminal: types the piped input, leaves at end of input with exit 0', async () => {
    const r = await run(['console', 'ctl', 'a'], 'echo piped-$((6*7)) > /tmp/piped\n');
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/Ctrl-\] or end of input leaves[\s\S]*console closed/);
    // The shell runs the typed line on its own time: poll for its effect.
    let got = '';
    for (let i = 0; i < 25 && got !== 'piped-42'; i++) {
      got = (await run(['exec', 'ctl', 'a', '--', 'cat /tmp/piped 2>/dev/null'])).stdout;
      if (got !== 'piped-42') await new Promise((res) => setTimeout(res, 200));
    }
    expect(got).toBe('piped-42');
  });

  it('logs: what the console printed, --tail N lines', async () => {
    const all = await run(['logs', 'ctl', 'b']);
    expect(all.exitCode).toBe(0);
    expect(all.stdout).toMatch(/topo-guest: ready/);
    expect(all.stdout).toMatch(/topo-guest: configured b/);
    const tail = await run(['logs', 'ctl', 'b', '--tail', '1']);
    expect(tail.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('bad names: one line listing what exists, exit 1', async () => {
    const node = await run(['exec', 'ctl', 'zz', '--', 'true']);
    expect(node.exitCode).toBe(1);
    expect(node.stderr).toMatch(/^topo: error: .*no node "zz" in lab ctl \(nodes: a, b\)$/);
    const lab = await run(['exec', 'nope', 'a', '--', 'true']);
    expect(lab.stderr).toMatch(/no lab "nope" \(running: ctl\)/);
    const link = await run(['link', 'ctl', 'a:eth9', 'down']);
    expect(link.stderr).toMatch(/no link "a:eth9".*a:eth0/);
  });

  it('two labs side by side; LAB may be left out only when one runs; a killed supervisor shows as stale and down cleans it', async () => {
    const other = path.join(base, 'solo.yaml');
    await writeFile(other, 'name: solo\nnodes:\n  s: { memory: 192M, host_network: false }\n');
    expect((await run(['up', '--detach', other, '--accel', 'tcg'])).exitCode).toBe(0);
    expect((await ps()).map((l) => l.lab)).toEqual(['ctl', 'solo']);
    const ambiguous = await run(['exec', 's', '--', 'true']);
    expect(ambiguous.exitCode).toBe(1);
    expect(ambiguous.stderr).toMatch(/several labs are running \(ctl, solo\)/);
    expect((await run(['exec', 'solo', 's', '--', 'hostname'])).stdout.trim()).toBe('s');

    const solo = (await ps()).find((l) => l.lab === 'solo')!;
    const qemu = solo.nodes[0]!.pid!;
    process.kill(solo.pid, 'SIGKILL');
    await waitUntil(() => !isRunning(solo.pid) && !isRunning(qemu), { what: 'the killed supervisor and its QEMU to be gone', timeoutMs: 10_000 });
    expect(isRunning(qemu)).toBe(false);
    expect((await ps()).find((l) => l.lab === 'solo')?.state).toBe('stale');
    const down = await run(['down', 'solo']);
    expect(down.stdout).toMatch(/stale lab cleaned up/);
    expect(existsSync(path.join(base, 'solo'))).toBe(false);
    expect((await ps()).map((l) => l.lab)).toEqual(['ctl']);
  });

  it('down stops the lab and leaves no process, socket or run directory', async () => {
    const [lab] = await ps();
    const pids = [lab!.pid, ...lab!.nodes.map((n) => n.pid!)];
    const r = await run(['down']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/ctl: stopped/);
    expect(pids.filter(isRunning)).toEqual([]);
    expect(existsSync(path.join(base, 'ctl'))).toBe(false);
    expect(await ps()).toEqual([]);
  });
});

async function md5(data: Buffer): Promise<string> {
  const { createHash } = await import('node:crypto');
  return createHash('md5').update(data).digest('hex');
}
