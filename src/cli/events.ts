// `topo events [LAB] [-f] [--json] [--interval 1s]`: the lab's journal so far, then (-f) what happens next.
import path from 'node:path';
import { countersEvents, readJournal, type JournalEvent } from '../control/journal-follow.js';
import { openLab } from '../control/remote-lab.js';
import { TopoError } from '../errors.js';
import { retry } from '../host/wait.js';
import { parseDuration } from '../topology/units.js';
import { findLab, notWithLabFile, type LabFlags } from './lab-args.js';

export interface EventsFlags extends LabFlags {
  follow?: boolean;
  json?: boolean;
  interval?: string;
}

export async function eventsCommand(lab: string | undefined, flags: EventsFlags): Promise<number> {
  notWithLabFile(flags, 'topo events', "each runner keeps its node's journal in its own run directory (read it there, e.g. kubectl exec ... -- topo events)");
  const interval = flags.interval === undefined ? undefined : parseInterval(flags.interval);
  const entry = await findLab(lab, flags);
  const remote = await openLab(entry);
  const status = await remote.status().catch(async (err: unknown) => {
    await remote.close();
    throw err;
  });
  let stopped = false;
  let finish: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (finish = resolve));
  const print = (e: JournalEvent) => {
    if (stopped) return;
    process.stdout.write(`${flags.json ? JSON.stringify(e) : formatEvent(e)}\n`);
    // The lab's last word: nothing follows it.
    if (flags.follow && e.type === 'lab' && e.state === 'stopped') finish(0);
  };
  // A reader that went away (`| head -1`) ends us quietly.
  const onStdoutError = () => finish(0);
  process.stdout.on('error', onStdoutError);
  // Before the first line is printed: a Ctrl-C right after it must find the handler in place.
  const onSigint = () => finish(130);
  if (flags.follow) {
    process.once('SIGINT', onSigint);
    process.once('SIGTERM', onSigint);
  }
  const journal = await readJournal(path.join(status.runDir, 'events.jsonl'), print, { follow: !!flags.follow }).catch((err: NodeJS.ErrnoException) => {
    void remote.close();
    throw new TopoError(`lab ${entry.lab} has no readable journal (${err.code ?? err.message})`, { code: 'E_RUNDIR', hint: 'it was started by an older topo; restart it' });
  });
  const sample = async () => {
    const s = await remote.status().catch(() => undefined);
    if (s) for (const e of countersEvents(s)) print(e);
  };
  let timer: NodeJS.Timeout | undefined;
  if (flags.follow) {
    if (interval !== undefined) timer = setInterval(() => void sample(), interval);
    // The lab going away (killed, not stopped) also ends the follow.
    // Its socket closes a moment before its last event ('stopped') is written: wait a little for it.
    remote.onDisconnect(() => {
      const flushed = async () => (await journal.flush(), stopped);
      void retry(flushed, { what: "the lab's last event", timeoutMs: 2000, intervalMs: 100 }).catch(() => finish(0));
    });
  } else {
    if (interval !== undefined) await sample();
    finish(0);
  }
  const code = await done;
  stopped = true;
  if (timer) clearInterval(timer);
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigint);
  process.stdout.off('error', onStdoutError);
  await journal.close();
  await remote.close();
  return code;
}

function parseInterval(value: string): number {
  const n = parseDuration(value);
  if (n === undefined || n < 100) throw new TopoError(`--interval ${JSON.stringify(value)} is not a duration of at least 100ms (e.g. 1s, 500ms)`, { code: 'E_USAGE' });
  return n;
}

/** One readable line per event: TIME TYPE then what it says. */
export function formatEvent(e: JournalEvent): string {
  const f = e as Record<string, unknown>;
  const str = (k: string) => (f[k] === undefined ? '' : String(f[k]));
  let what: string;
  switch (e.type) {
    case 'node':
      what = `${str('node')} ${str('state')}${f.readyMs !== undefined ? ` in ${str('readyMs')} ms` : ''}${f.detail ? ` (${str('detail')})` : ''}`;
      break;
    case 'lab':
      what = `${str('state')}${f.detail ? ` (${str('detail')})` : ''}`;
      break;
    case 'link':
      what = `${str('link')} ${str('state')}`;
      break;
    case 'notice':
      what = str('message');
      break;
    case 'step':
      what = `${str('step')} ${str('name')} ${str('state')}${f.message ? `: ${str('message')}` : ''}`;
      break;
    case 'counters': {
      const c = e as unknown as import('../control/journal-follow.js').CountersEvent;
      const drops = Object.entries(c.drops).filter(([, n]) => n > 0).map(([k, n]) => `${k}=${n}`).join(' ');
      what = `${c.link} ${c.endpoint} sent ${c.rx.frames} frames/${c.rx.bytes} B, got ${c.tx.frames} frames/${c.tx.bytes} B${drops ? `, drops ${drops}` : ''}`;
      break;
    }
    default: {
      const { time: _t, type: _y, ...rest } = e;
      what = JSON.stringify(rest);
    }
  }
  const err = f.error as { message?: string } | undefined;
  return `${e.time} ${e.type.padEnd(8)} ${what}${err?.message ? `: ${err.message}` : ''}`;
}
