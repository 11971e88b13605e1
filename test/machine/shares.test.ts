// shares: (issue 19) without a VM: the QEMU argv, the guest config records, the seccomp filter under the real bwrap,
// the up preflight's one-line refusal, and the replay refusal.
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isTopoError } from '../../src/errors.js';
import { renderGuestConfig } from '../../src/guest/config.js';
import { planNode } from '../../src/qemu/plan.js';
import { shareSeccompFilter } from '../../src/machine/share-seccomp.js';
import { plannedShares, preflightShares, virtiofsdArgv } from '../../src/machine/virtiofsd.js';
import { loadTopology } from '../../src/topology/index.js';
import { node, topology } from '../helpers/model.js';
import { tempDir } from '../helpers/tmp.js';

const values = (argv: readonly string[], flag: string) => argv.flatMap((a, i) => (argv[i - 1] === flag ? [a] : []));
const withShares = node('a', { memoryMiB: 256, shares: [{ host: '/h/ro', guest: '/mnt/ro', writable: false }, { host: '/h/o,ut', guest: '/mnt/out', writable: true }] });

describe('shares in the plan and the guest config', () => {
  it('microvm: guest RAM on a shared memfd backend, modern virtio-mmio, one vhost-user-fs device per share (paths escaped)', () => {
    const shares = plannedShares(withShares, '/run/labx')!;
    const plan = planNode(topology([withShares]), withShares, { accel: 'tcg', kernel: '/k', initrd: '/i', defaultGuest: true, hostForwards: [], shares });
    expect(values(plan.argv, '-M')[0]).toContain('memory-backend=mem');
    expect(values(plan.argv, '-object')).toEqual(['memory-backend-memfd,id=mem,size=256M,share=on']);
    expect(values(plan.argv, '-global')).toEqual(['virtio-mmio.force-legacy=false']);
    expect(values(plan.argv, '-chardev').filter((c) => c.includes('fs'))).toEqual(['socket,id=fs0,path=/run/labx/a.share0.sock', 'socket,id=fs1,path=/run/labx/a.share1.sock']);
    expect(values(plan.argv, '-device').filter((d) => d.startsWith('vhost'))).toEqual(['vhost-user-fs-device,chardev=fs0,tag=topo-share0', 'vhost-user-fs-device,chardev=fs1,tag=topo-share1']);
    expect(plan.shares?.map((s) => [s.host, s.writable])).toEqual([['/h/ro', false], ['/h/o,ut', true]]);
  });

  it('a node without shares keeps private RAM and legacy virtio-mmio', () => {
    const n = node('b');
    const plan = planNode(topology([n]), n, { accel: 'tcg', kernel: '/k', initrd: '/i', defaultGuest: true, hostForwards: [] });
    expect(plan.argv.join(' ')).not.toMatch(/memory-backend|force-legacy|vhost-user-fs/);
  });

  it('uefi: vhost-user-fs-pci on q35 with the shared backend', () => {
    const u = node('u', { kind: 'uefi', interfaces: [], shares: withShares.shares });
    const plan = planNode(topology([u]), u, { accel: 'tcg', defaultGuest: true, hostForwards: [], firmware: { code: '/c', vars: '/v' }, disk: '/esp', shares: plannedShares(u, '/r') });
    expect(values(plan.argv, '-M')).toEqual(['q35,memory-backend=mem']);
    expect(values(plan.argv, '-device')).toContain('vhost-user-fs-pci,chardev=fs0,tag=topo-share0');
  });

  it('the guest config lists each share: tag, base64 guest path, ro/rw', () => {
    const text = renderGuestConfig(withShares, { shareTags: ['topo-share0', 'topo-share1'] }).toString();
    expect(text).toContain(`share topo-share0 ${Buffer.from('/mnt/ro').toString('base64')} ro\n`);
    expect(text).toContain(`share topo-share1 ${Buffer.from('/mnt/out').toString('base64')} rw\n`);
  });

  it('a run directory virtiofsd cannot parse, or too long for a socket, is refused with how to fix it', () => {
    expect(() => plannedShares(withShares, '/tmp/a,b')).toThrow(/comma or backslash.*\n?/);
    expect(() => plannedShares(withShares, `/tmp/${'x'.repeat(120)}`)).toThrow(/too long for the socket/);
  });

  it('virtiofsd argv: a read-only share is a --ro-bind, a writable one a --bind; capabilities dropped; no xattr', () => {
    const [ro, rw] = plannedShares(withShares, '/r')!;
    const a = virtiofsdArgv(ro!);
    expect(a.slice(a.indexOf('--ro-bind'), a.indexOf('--ro-bind') + 3)).toEqual(['--ro-bind', '/h/ro', '/r/a.share0.mnt']);
    expect(virtiofsdArgv(rw!)).toContain('--bind');
    expect(a).toContain('modcaps=-chown:-fowner:-fsetid:-mknod:-setuid:-setgid:-setfcap');
    expect(a).toContain('no_xattr');
  });
});

describe('the seccomp filter virtiofsd runs under (real bwrap)', () => {
  it('refuses setuid/setgid modes and device nodes; ordinary files, modes and fifos still work', () => {
    const dir = tempDir('topo-seccomp-');
    const bpf = path.join(dir, 'f.bpf');
    writeFileSync(bpf, shareSeccompFilter());
    const script = [
      'cd "$1"', 'touch f && chmod 0750 f && echo chmod=ok', 'chmod 4755 f || echo suid=refused', 'chmod 2755 f || echo sgid=refused',
      'mknod c c 1 3 2>/dev/null || echo chr=refused', 'mknod b b 7 0 2>/dev/null || echo blk=refused', 'mknod p p && echo fifo=ok',
      'python3 -c "import os,sys; os.open(sys.argv[1], os.O_CREAT|os.O_WRONLY, 0o4755)" "$1/o" 2>/dev/null || echo open=refused',
      'mkdir -m 2755 g 2>/dev/null || echo mkdir=refused', 'mkdir d && echo dir=ok',
    ].join('\n');
    const r = spawnSync('sh', ['-c', `exec bwrap --dev-bind / / --seccomp 9 -- sh -c "$1" sh "$2" 9<"$0"`, bpf, script, dir], { encoding: 'utf8' });
    expect(r.stdout.trim().split('\n')).toEqual(['chmod=ok', 'suid=refused', 'sgid=refused', 'chr=refused', 'blk=refused', 'fifo=ok', 'open=refused', 'mkdir=refused', 'dir=ok']);
    for (const name of readdirSync(dir)) expect({ name, special: lstatSync(path.join(dir, name)).mode & 0o6000 }).toEqual({ name, special: 0 });
  });
});

describe('refusals', () => {
  const lab = () => {
    const dir = tempDir('topo-shares-');
    mkdirSync(path.join(dir, 'src'));
    const file = path.join(dir, 'lab.yaml');
    writeFileSync(file, 'name: lab\nnodes:\n  a: {}\n  b:\n    shares: [{ host: ./src, guest: /mnt/src }]\n');
    return { dir, file };
  };

  it('up preflight: no virtiofsd, one line with file:line:col, the node and what to install', async () => {
    const { file } = lab();
    const res = await loadTopology(file);
    if (!res.ok) throw new Error('invalid');
    const err = await preflightShares(res.topology, { binary: '/nonexistent/virtiofsd' }).catch((e: unknown) => e);
    expect(isTopoError(err) && err.oneLine()).toBe(`${file}:5:13: error: b: shares: need virtiofsd (/nonexistent/virtiofsd not found) (install it: apt-get install qemu-system-common)`);
    const notRoot = await preflightShares(res.topology, { uid: 1000 }).catch((e: unknown) => e);
    expect(isTopoError(notRoot) && notRoot.code).toBe('E_NO_VIRTIOFSD');
    await expect(preflightShares({ ...res.topology, nodes: [res.topology.nodes[0]!] }, { binary: '/nonexistent' })).resolves.toBeUndefined();
  });

  it('a replayed bundle refuses shares: (even of a directory inside the bundle) with its own message', async () => {
    const { dir, file } = lab();
    const res = await loadTopology(file, { confine: dir });
    expect(res.ok).toBe(false);
    expect(res.diagnostics.map((d) => [d.code, d.line, d.message])).toEqual([
      ['E_SHARES_REPLAY', 5, expect.stringMatching(/^shares: are refused in a replayed bundle: they name live host directories/)],
    ]);
    expect((await loadTopology(file)).ok).toBe(true);
  });
});
