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
