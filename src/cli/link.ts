// `topo link [LAB] ENDPOINT down|up`: carrier off/on at every QEMU end of the link (QMP set_link).
import { ControlConnection } from '../control/client.js';
import { socketOf } from '../control/labs.js';
import { TopoError } from '../errors.js';
import type { LinkStatus } from '../api/status.js';
import { findLab, splitLab, type LabFlags } from './lab-args.js';

export async function linkCommand(words: string[], flags: LabFlags): Promise<number> {
  const { lab, rest } = splitLab(words, 2, '[LAB] ENDPOINT down|up');
  const [endpoint, state] = rest as [string, string];
  if (state !== 'up' && state !== 'down') throw new TopoError(`link state must be "down" or "up", not ${JSON.stringify(state)}`, { code: 'E_USAGE' });
  const entry = await findLab(lab, flags);
  const conn = await ControlConnection.open(socketOf(entry), entry.lab);
  try {
    const link = await conn.request<LinkStatus>({ op: 'link', endpoint, state });
    process.stdout.write(`${entry.lab}: link ${link.id} (${link.endpoints.join(' ')}) ${link.state}\n`);
  } finally {
    conn.close();
  }
  return 0;
}
