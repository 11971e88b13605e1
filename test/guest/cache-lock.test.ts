// The guest cache lock: a held lock is waited for (with backoff) and then taken; an error other than "locked" is not retried.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { afterEach, describe, expect, it } from 'vitest';
import { withCacheLock } from '../../src/guest/refs.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('withCacheLock', () => {
  it('waits while another holder has the lock, then runs once it is released', async () => {
    const root = await mkdtemp(join(os.tmpdir(), 'topo-lock-'));
    dirs.push(root);
    const release = await lockfile.lock(root, { lockfilePath: join(root, '.lock'), realpath: false });
    const order: string[] = [];
    const waiting = withCacheLock(root, async () => void order.push('ran'));
    await new Promise((r) => setTimeout(r, 150));
    order.push('released');
    await release();
    await waiting;
    expect(order).toEqual(['released', 'ran']);
  });

  it('a root that is not there is an error at once, not a wait', async () => {
    const root = join(os.tmpdir(), `topo-lock-missing-${process.pid}`, 'deeper');
    await expect(withCacheLock(root, async () => 1)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
