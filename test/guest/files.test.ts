// files: as one newc archive, unpacked by busybox cpio as guest/init.sh does (parent directories created).
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { filesArchive } from '../../src/guest/files.js';
import { node } from '../helpers/model.js';

describe('files archive', () => {
  it('host files (exec bit kept), strings and modes land at their paths with parents created', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'topo-files-'));
    try {
      await writeFile(join(dir, 'frr.conf'), 'router ospf\n');
      await writeFile(join(dir, 'start.sh'), '#!/bin/sh\n');
      await chmod(join(dir, 'start.sh'), 0o750);
      const n = node('r1', {
        files: [
          { path: '/etc/frr/frr.conf', source: { file: join(dir, 'frr.conf') } },
          { path: '/usr/local/bin/start.sh', source: { file: join(dir, 'start.sh') } },
          { path: '/etc/frr/daemons', source: { string: 'ospfd=yes\n' }, mode: 0o640 },
        ],
      });
      const archive = await filesArchive(n);
      const root = join(dir, 'root');
      execFileSync('mkdir', [root]);
      execFileSync('busybox', ['cpio', '-idmu'], { cwd: root, input: archive });
      expect(await readFile(join(root, 'etc/frr/frr.conf'), 'utf8')).toBe('router ospf\n');
      expect((await stat(join(root, 'etc/frr/frr.conf'))).mode & 0o777).toBe(0o644);
      expect((await stat(join(root, 'usr/local/bin/start.sh'))).mode & 0o777).toBe(0o755);
      expect(await readFile(join(root, 'etc/frr/daemons'), 'utf8')).toBe('ospfd=yes\n');
      expect((await stat(join(root, 'etc/frr/daemons'))).mode & 0o777).toBe(0o640);
      expect(await filesArchive(node('r2'))).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an unreadable host file is one clear error naming the node and path', async () => {
    const n = node('r1', { files: [{ path: '/etc/x', source: { file: '/nonexistent/x.conf' } }] });
    await expect(filesArchive(n)).rejects.toMatchObject({ code: 'E_FILE_UNREADABLE', node: 'r1', message: 'files /etc/x: cannot read /nonexistent/x.conf (ENOENT)' });
  });
});
