// shares: (issue 19) on real QEMU with the real default guest: a host directory read by two nodes at once, a
// writable share's file on the host after down, and the host-side limits a root guest cannot get around.
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Lab } from '../../src/runtime/lab.js';
import { up } from '../../src/control/up.js';
import { loadTopology } from '../../src/topology/index.js';
import { ctrlC, topo, waitForOutput } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

let lab: Lab | undefined;
let dir: string;
let runBase: string;

beforeAll(async () => {
  dir = tempDir('topo-shares-');
  runBase = path.join(dir, 'run');
  await mkdir(path.join(dir, 'ro'));
  await mkdir(path.join(dir, 'out'));
  await writeFile(path.join(dir, 'ro', 'hello.txt'), 'hello from the host\n');
  const file = path.join(dir, 'lab.yaml');
  await writeFile(file, [
    'name: e2e-shares',
    'nodes:',
    '  a:',
    '    shares:',
    '      - { host: ./ro, guest: /mnt/ro }',
    '      - { host: ./out, guest: /mnt/out, writable: true }',
    '  b:',
    '    shares: [{ host: ./ro, guest: /srv/ro }]',
    '',
  ].join('\n'));
  const loaded = await loadTopology(file);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.diagnostics));
  lab = await up(loaded.topology, { accel: 'tcg', runDirBase: runBase, control: false });
}, 300_000);

afterAll(async () => {
  await lab?.down({ force: true });
});

const sh = async (node: string, cmd: string) => {
  const r = await lab!.exec(node, cmd, { timeoutMs: 20_000 });
  return { code: r.exitCode, out: r.stdout.toString().trim() };
};

describe('shares: on real guests', () => {
  it('a host file is readable in two nodes at once, and a change on the host is seen live', async () => {
    expect(await sh('a', 'cat /mnt/ro/hello.txt')).toEqual({ code: 0, out: 'hello from the host' });
    expect(await sh('b', 'cat /srv/ro/hello.txt')).toEqual({ code: 0, out: 'hello from the host' });
    await writeFile(path.join(dir, 'ro', 'later.txt'), 'written while running\n');
    expect(await sh('b', 'cat /srv/ro/later.txt')).toEqual({ code: 0, out: 'written while running' });
  });

  it('a read-only share stays read-only on the host even after the guest remounts it rw', async () => {
    const r = await sh('a', 'mount -o remount,rw /mnt/ro; echo x > /mnt/ro/planted 2>&1; echo rc=$?; grep " /mnt/ro " /proc/mounts');
    expect(r.out).toMatch(/rc=1/);
    expect(r.out).toMatch(/topo-share0 \/mnt\/ro virtiofs rw/);
    expect(await readdir(path.join(dir, 'ro'))).toEqual(['hello.txt', 'later.txt']);
  });

  it('a writable share: the guest cannot plant setuid/setgid files, device nodes or files of another owner', async () => {
    const r = await sh('a', [
      'cd /mnt/out',
      'touch s; chmod 4755 s; echo suid=$?; chmod 2755 s; echo sgid=$?; chown 1234:1234 s; echo chown=$?',
      'mknod dev c 1 3; echo mknod=$?',
      'cp /bin/busybox bb && chmod u+s bb; echo cpsuid=$?',
      'mkdir -m 2755 gdir; echo mkdirsgid=$?',
      // A guest user other than root: virtiofsd cannot take its identity, so it creates nothing.
      'setuidgid 1234 touch /mnt/out/by-1234; echo user=$?',
    ].join('; '));
    expect(r.out).toMatch(/suid=1\nsgid=1\nchown=1\nmknod=1\ncpsuid=1\nmkdirsgid=1\nuser=1/);
    const me = process.getuid!();
    for (const name of await readdir(path.join(dir, 'out'))) {
      const st = await lstat(path.join(dir, 'out', name));
      expect({ name, uid: st.uid, special: st.mode & 0o6000, device: st.isCharacterDevice() || st.isBlockDevice() }).toEqual({ name, uid: me, special: 0, device: false });
    }
    expect((await readdir(path.join(dir, 'out'))).sort()).toEqual(['bb', 'gdir', 's']);
  });

  it("a file a guest writes is on the host after down, and no virtiofsd is left", async () => {
    expect(await sh('a', 'echo from the guest > /mnt/out/result.txt && sync; echo $?')).toEqual({ code: 0, out: '0' });
    const pids = lab!.supervisor.nodes().map((n) => n.name);
    expect(pids).toEqual(['a', 'b']);
    await lab!.down({});
    lab = undefined;
    expect(await readFile(path.join(dir, 'out', 'result.txt'), 'utf8')).toBe('from the guest\n');
    expect((await stat(path.join(dir, 'out', 'result.txt'))).uid).toBe(process.getuid!());
    const left = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes('virtiofsd') && l.includes(dir));
    expect(left).toEqual([]);
  });
});

/** Processes whose command line names `needle` (virtiofsd, bwrap, QEMU of a lab in that directory). */
const processesNaming = (needle: string) =>
  execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(needle) && !l.includes(' ps -eo'));

describe('shares: with the CLI', () => {
  const oneNode = async () => {
    const base = tempDir('topo-shares-cli-');
    await mkdir(path.join(base, 'share'));
    await writeFile(path.join(base, 'lab.yaml'), 'name: cli-shares\nnodes:\n  a:\n    shares: [{ host: ./share, guest: /mnt/share, writable: true }]\n');
    return base;
  };

  it("Ctrl-C (to the whole group) leaves no virtiofsd, bwrap or QEMU, and no run directory", async () => {
    const base = await oneNode();
    const child = topo(['up', path.join(base, 'lab.yaml'), '--run-dir', path.join(base, 'run'), '--accel', 'tcg'], {}, { group: true });
    let bwraps: string[];
    try {
      await waitForOutput(child, /press Ctrl-C to stop/);
      bwraps = processesNaming(path.join(base, 'run')).filter((l) => /^\s*\d+ bwrap /.test(l));
    } finally {
      ctrlC(child);
    }
    expect(bwraps).toHaveLength(1);
    const res = await child;
    expect(res.exitCode).toBe(0);
    await until('no virtiofsd, bwrap or QEMU naming the lab', () => processesNaming(base).length === 0, { timeoutMs: 15_000, intervalMs: 100 });
    expect(await readdir(path.join(base, 'run')).catch(() => [])).toEqual([]);
  });

  it('a virtiofsd that dies fails its node with the reason, and topo exits non-zero leaving nothing behind', async () => {
    const base = await oneNode();
    const child = topo(['up', path.join(base, 'lab.yaml'), '--run-dir', path.join(base, 'run'), '--accel', 'tcg'], {}, { group: true });
    let line: string | undefined;
    try {
      await waitForOutput(child, /press Ctrl-C to stop/);
      [line] = processesNaming(path.join(base, 'run')).filter((l) => /^\s*\d+ \/usr\/lib\/qemu\/virtiofsd /.test(l));
      process.kill(Number(line!.trim().split(/\s+/)[0]), 'SIGKILL');
    } catch (err) {
      ctrlC(child);
      throw err;
    }
    const res = await child;
    expect(res.exitCode).toBe(1);
    expect(res.all).toMatch(/error: a: virtiofsd of share \S+\/share was killed by SIGKILL/);
    await until('no virtiofsd, bwrap or QEMU naming the lab', () => processesNaming(base).length === 0, { timeoutMs: 15_000, intervalMs: 100 });
  });
});
