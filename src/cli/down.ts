// `topo down [LAB] [--all]`: stop a lab with the same guarantees as Ctrl-C on a foreground `up`; clean up a stale one.
import { cleanStale, listLabs, type LabEntry } from '../control/labs.js';
import { processStartTime } from '../host/proc-stat.js';
import { waitUntil } from '../host/wait.js';
import { runBase } from '../runtime/rundir.js';
import { TopoError } from '../errors.js';
import { findLab, notWithLabFile, withEntry, withLab, type LabFlags } from './lab-args.js';

export async function downCommand(lab: string | undefined, flags: LabFlags & { all?: boolean }): Promise<number> {
  if (flags.labFile !== undefined) {
    if (flags.all) notWithLabFile(flags, '--all', 'it stops the labs of this host; the lab file names one lab');
    // Every runner stops its node (they stay up, ready to be deleted); there is no local supervisor to wait for.
    const name = await withLab(lab, flags, async (remote) => (await remote.down(), remote.name));
    process.stdout.write(`${name}: stopped\n`);
    return 0;
  }
  const labs = flags.all ? await listLabs(runBase(flags.runDir)) : [await findLab(lab, flags)];
  if (flags.all && labs.length === 0) process.stdout.write('no labs running\n');
  if (!flags.all) {
    await downOne(labs[0]!);
    return 0;
  }
  // One lab that cannot be stopped or cleaned does not keep --all from the others.
  let failed = 0;
  for (const entry of labs) {
    try {
      await downOne(entry);
    } catch (err) {
      if (!(err instanceof TopoError)) throw err;
      process.stderr.write(`topo: ${err.oneLine()}\n`);
      failed++;
    }
  }
  return failed ? 1 : 0;
}

async function downOne(entry: LabEntry): Promise<void> {
  if (entry.state === 'stale') {
    await cleanStale(entry);
    process.stdout.write(`${entry.lab}: stale lab cleaned up (${entry.dir} removed)\n`);
    return;
  }
  await withEntry(entry, (remote) => remote.down());
  // The reply comes once every QEMU is gone; wait for the supervisor itself to exit too.
  const pid = entry.status?.pid;
  // A zombie counts as gone: a PID 1 that does not reap (containers) would otherwise hold us for the whole wait.
  if (pid) await waitUntil(async () => (await processStartTime(pid)) === undefined, { what: `the supervisor (pid ${pid}) to exit`, timeoutMs: 5000, intervalMs: 50 });
  process.stdout.write(`${entry.lab}: stopped\n`);
}
