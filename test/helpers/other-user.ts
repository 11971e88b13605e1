// Acting as another user in tests (they run as root): `nobody` plants files the way an attacker on the machine would.
import { execa } from 'execa';
import { mkdtemp, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export const NOBODY = 65534;

/** Run argv as nobody:nogroup with no supplementary groups; throws if the command fails. */
export async function asNobody(...argv: string[]): Promise<void> {
  await execa('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', ...argv]);
}

/** A fresh root-owned directory shared like /tmp (1777): nobody may create things in it, not rename ours. */
export async function sandbox(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  await chmod(dir, 0o1777);
  return dir;
}

/**
 * Run argv as nobody, allowed to read and search every directory (CAP_DAC_READ_SEARCH, nothing else) so that it can load
 * topo from wherever the repository was cloned; it still owns nothing and writes only where nobody may.
 */
export function nobodyReading(argv: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const caps = ['--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search'];
  return execa('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...caps, '--', ...argv], { reject: false, cwd: opts.cwd, env: { HOME: '/', ...opts.env } });
}
