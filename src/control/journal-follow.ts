// Reading a running lab's event journal (events.jsonl in its run directory), and following it as it grows.
import { open, type FileHandle } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import type { LabStatus } from '../api/status.js';

/** One journal line: the library's event shapes (node, lab, link, notice, step, ...) with their wall-clock `time`. */
export interface JournalEvent {
  time: string;
  type: string;
  [key: string]: unknown;
}

/** What `--interval` adds: one per forwarded endpoint, its counters since the lab started. */
export interface CountersEvent extends JournalEvent {
  type: 'counters';
  link: string;
  endpoint: string;
  rx: { frames: number; bytes: number };
  tx: { frames: number; bytes: number };
  drops: Record<string, number>;
}

export function countersEvents(status: LabStatus, time = new Date().toISOString()): CountersEvent[] {
  return status.links.flatMap((l) => (l.counters ?? []).map((c) => ({ time, type: 'counters' as const, link: l.id, endpoint: c.endpoint, rx: c.rx, tx: c.tx, drops: { ...c.drops } })));
}

/** Splits appended bytes into events; a torn last line waits for its end, a malformed one is skipped. */
export class JournalParser {
  private rest = '';
  push(text: string): JournalEvent[] {
    const lines = (this.rest + text).split('\n');
    this.rest = lines.pop() ?? '';
    const out: JournalEvent[] = [];
    for (const line of lines) {
      try {
        const e = JSON.parse(line) as JournalEvent;
        if (e && typeof e === 'object' && typeof e.type === 'string') out.push(e);
      } catch {
        // not a journal line (a torn write after a full disk): skip it
      }
    }
    return out;
  }
}

export interface JournalFollower {
  /** Read whatever was appended so far (the last lines of a lab that just stopped). */
  flush(): Promise<void>;
  /** Stop following and close the file. */
  close(): Promise<void>;
}

/** Each event from the start of the journal, then (with `follow`) each appended one, until close(). */
export async function readJournal(file: string, onEvent: (e: JournalEvent) => void, opts: { follow: boolean }): Promise<JournalFollower> {
  // An open handle keeps reading even after a lab without --keep removes its run directory.
  const fh: FileHandle = await open(file, 'r');
  const parser = new JournalParser();
  const buf = Buffer.alloc(64 * 1024);
  let pos = 0;
  let closed = false;
  let reading: Promise<void> = Promise.resolve();
  const drain = async () => {
    for (;;) {
      if (closed) return;
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) return;
      pos += bytesRead;
      for (const e of parser.push(buf.subarray(0, bytesRead).toString('utf8'))) if (!closed) onEvent(e);
    }
  };
  const kick = () => {
    reading = reading.then(drain).catch(() => undefined);
  };
  kick();
  await reading;
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  if (opts.follow && !closed) {
    try {
      watcher = watch(file, kick);
      watcher.on('error', () => undefined);
    } catch {
      // the file is already gone: the backstop timer still reads what the open handle sees
    }
    // inotify misses nothing on a local file system; the timer covers the ones where it does.
    timer = setInterval(kick, 1000);
  }
  return {
    async flush() {
      kick();
      await reading;
    },
    async close() {
      if (closed) return;
      closed = true;
      watcher?.close();
      if (timer) clearInterval(timer);
      await reading;
      await fh.close().catch(() => undefined);
    },
  };
}
