// Commands that stream a running lab's bytes: `topo logs` on a terminal vs a pipe, `topo capture -w` write errors.
import { execa } from 'execa';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlConnection } from '../../src/control/client.js';
import { SOCKET_NAME } from '../../src/control/protocol.js';
import { repoRoot, topo, topoArgv } from '../helpers/cli.js';

const fake = fileURLToPath(new URL('../fixtures/fake-qemu.mjs', import.meta.url));
// What a hostile guest prints: a clipboard write (OSC 52), a title change, clear screen.
const EVIL = 'evil \x1b]52;c;ZXZpbA==\x07 \x1b]0;pwned\x07 \x1b[2J end';
let base: string;

beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-stream-'));
  const file = path.join(base, 'lab.yaml');
  const vm = `{ kernel: ${JSON.stringify(fake)}, host_network: false, ready: { console: "fake: ready", timeout: 20s } }`;
  await writeFile(file, `name: stream\nnodes:\n  a: ${vm}\n  b: ${vm}\nlinks:\n  - endpoints: [a:eth0, b:eth0]\n`);
  const up = await topo(['up', '--detach', '--forward-all', file, '--run-dir', base], { TOPO_QEMU: fake, FAKE_QEMU_SAY: EVIL });
  expect(up.exitCode, up.all).toBe(0);
}, 60_000);
afterAll(async () => {
  await topo(['down', '--all', '--run-dir', base]);
  await rm(base, { recursive: true, force: true });
}, 30_000);

describe('topo logs', () => {
  it('piped: the console bytes as they are', async () => {
    const r = await topo(['logs', 'stream', 'a', '--run-dir', base]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(EVIL);
  });

  it('on a terminal: escape sequences are shown, not obeyed', async () => {
    // script(1) gives topo a pseudo terminal as stdout, as an interactive shell would.
    const cmd = topoArgv(['logs', 'stream', 'a', '--run-dir', base]).map((a) => `'${a}'`).join(' ');
    const r = await execa('script', ['-qec', cmd, '/dev/null'], { cwd: repoRoot, reject: false, stdin: 'ignore', env: { CI: '1', NO_COLOR: '1' } });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('evil \\x1b]52;c;ZXZpbA==\\x07 \\x1b]0;pwned\\x07 \\x1b[2J end');
    expect(r.stdout).toMatch(/^booting a\r?$/m);
    expect(r.stdout).not.toMatch(/\x1b/);
  });
});

describe('a reader that goes away', () => {
  it('`topo logs -f | head -1`: logs ends quietly at its next write instead of following into a closed pipe', async () => {
    const cmd = `${topoArgv(['logs', '-f', 'stream', 'a', '--run-dir', base]).map((a) => `'${a}'`).join(' ')} 2>&1 | head -1; echo "status \${PIPESTATUS[0]}"`;
    const child = execa('bash', ['-c', cmd], { cwd: repoRoot, reject: false, timeout: 20_000, env: { CI: '1' } });
    await new Promise<void>((resolve) => child.stdout!.on('data', (b: Buffer) => String(b).includes('booting a') && resolve()));
    // More console output (a restarted node boots again): the write that finds the pipe closed.
    const conn = await ControlConnection.open(path.join(base, 'stream', SOCKET_NAME), 'stream');
    await conn.request({ op: 'node', node: 'a', action: 'restart' }).finally(() => conn.close());
    const r = await child;
    expect(r.timedOut).toBe(false);
    expect(r.stdout.split('\n')).toEqual(['booting a\r', 'status 0']);
  }, 30_000);
});

describe('topo capture -w', () => {
  it.each([
    ['/dev/full', /cannot write the capture to \/dev\/full: .*(ENOSPC|no space)/i],
    ['/nonexistent/dir/x.pcap', /cannot write the capture to \/nonexistent\/dir\/x\.pcap: .*ENOENT/],
  ])('%s: the write error, exit 1', async (target, message) => {
    const r = await topo(['capture', 'stream', 'a:eth0', '-w', target, '--run-dir', base]);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(message)]);
    expect(r.exitCode).toBe(1);
  });

  it('a directory: the write error, exit 1', async () => {
    const r = await topo(['capture', 'stream', 'a:eth0', '-w', base, '--run-dir', base]);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^topo: error: cannot write the capture to .*topo-stream-\w+: .*EISDIR.*\(choose another -w FILE\)$/)]);
    expect(r.exitCode).toBe(1);
  });

  it('a file it can write: the capture header arrives, Ctrl-C ends it with exit 0', async () => {
    const out = path.join(base, 'ok.pcap');
    const child = topo(['capture', 'stream', 'a:eth0', '-w', out, '--run-dir', base], {}, { group: true });
    await expect.poll(() => stat(out).then((s) => s.size, () => 0), { timeout: 10_000 }).toBeGreaterThan(0);
    process.kill(-child.pid!, 'SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(0);
    expect(r.all).toBe('');
  });
});
