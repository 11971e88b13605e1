// swtpm argv (pure) and the real swtpm on a socketpair: start, stop, and a failing start that leaves nothing behind.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TopoError } from '../../src/errors.js';
import { closeFd } from '../../src/host/fds.js';
import { prepareTpmState, Swtpm, swtpmArgs, swtpmSetupArgs } from '../../src/machine/swtpm.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'topo-swtpm-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('swtpmArgs', () => {
  it('runs a TPM 2.0 on the inherited fd 3, state relative to its cwd (commas in the run dir are harmless)', () => {
    expect(swtpmArgs('/run/a,b/fw.tpm')).toEqual(['socket', '--tpm2', '--tpmstate', 'dir=./fw.tpm,mode=0600', '--ctrl', 'type=unixio,clientfd=3', '--terminate']);
  });
  it('rejects a state directory name with a comma', () => {
    expect(() => swtpmArgs('/run/x,y.tpm')).toThrow(TopoError);
  });
});

describe('Swtpm', () => {
  it('starts, initialises its state and stops', async () => {
    const tpm = await Swtpm.start({ node: 'fw', stateDir: path.join(dir, 'fw.tpm') });
    expect(existsSync(`/proc/${tpm.pid}`)).toBe(true);
    expect(existsSync(path.join(dir, 'fw.tpm', 'tpm2-00.permall'))).toBe(true);
    closeFd(tpm.takeQemuFd());
    await tpm.stop();
    expect(existsSync(`/proc/${tpm.pid}`)).toBe(false);
  });

  it('a swtpm that cannot initialise is E_SWTPM with its message, and nothing is left running', async () => {
    const stateDir = path.join(dir, 'fw.tpm');
    // A directory where swtpm's lock file goes: the state cannot be locked, so the TPM cannot initialise.
    await mkdir(path.join(stateDir, '.lock'), { recursive: true });
    const err = (await Swtpm.start({ node: 'fw', stateDir }).catch((e: unknown) => e)) as TopoError;
    expect(err).toBeInstanceOf(TopoError);
    expect({ code: err.code, node: err.node }).toEqual({ code: 'E_SWTPM', node: 'fw' });
    expect(err.stderrTail).toMatch(/swtpm/);
    expect(await swtpmChildren()).toEqual([]);
  });

  it('a missing binary is E_SWTPM', async () => {
    const err = (await Swtpm.start({ node: 'fw', stateDir: path.join(dir, 'x.tpm'), binary: '/nonexistent/swtpm' }).catch((e: unknown) => e)) as TopoError;
    expect(err.code).toBe('E_SWTPM');
    expect(await swtpmChildren()).toEqual([]);
  });
});

/** swtpm processes whose parent is this test process. */
async function swtpmChildren(): Promise<number[]> {
  const out: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const stat = await readFile(`/proc/${p}/stat`, 'utf8').catch(() => '');
    const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
    if (m && m[1] === 'swtpm' && Number(m[2]) === process.pid) out.push(Number(p));
  }
  return out;
}

describe('prepareTpmState', () => {
  it('copies prepared state into the node\'s directory and never writes the original', async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'topo-tpmprep-'));
    try {
      const from = path.join(tmp, 'from');
      await mkdir(from);
      await writeFile(path.join(from, 'tpm2-00.permall'), 'state');
      const before = (await stat(path.join(from, 'tpm2-00.permall'))).mtimeMs;
      const to = path.join(tmp, 'to');
      await mkdir(to);
      await prepareTpmState('n', to, from);
      expect(await readFile(path.join(to, 'tpm2-00.permall'), 'utf8')).toBe('state');
      await writeFile(path.join(to, 'tpm2-00.permall'), 'changed by swtpm');
      expect(await readFile(path.join(from, 'tpm2-00.permall'), 'utf8')).toBe('state');
      expect((await stat(path.join(from, 'tpm2-00.permall'))).mtimeMs).toBe(before);
      expect(swtpmSetupArgs('/s')).toEqual(['--tpm2', '--tpmstate', '/s', '--create-ek-cert', '--create-platform-cert', '--lock-nvram', '--not-overwrite']);
      await expect(prepareTpmState('n', to, undefined, '/nonexistent/swtpm_setup')).rejects.toMatchObject({ code: 'E_SWTPM', message: '/nonexistent/swtpm_setup not found (needed to manufacture the TPM)' });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
