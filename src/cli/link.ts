// `topo link [LAB] ENDPOINT down|up`: carrier off/on at every QEMU end of the link (QMP set_link).
import { TopoError } from '../errors.js';
import { splitLab, withLab, type LabFlags } from './lab-args.js';

export async function linkCommand(words: string[], flags: LabFlags): Promise<number> {
  const { lab, rest } = splitLab(words, 2, '[LAB] ENDPOINT down|up');
  const [endpoint, state] = rest as [string, string];
  if (state !== 'up' && state !== 'down') throw new TopoError(`link state must be "down" or "up", not ${JSON.stringify(state)}`, { code: 'E_USAGE' });
  return withLab(lab, flags, async (remote) => {
    const link = await remote.setLink(endpoint, state);
    process.stdout.write(`${remote.name}: link ${link.id} (${link.endpoints.join(' ')}) ${link.state}\n`);
    return 0;
  });
}
