// Reading a running lab's event journal (events.jsonl in its run directory), and following it as it grows.
import { open, type FileHandle } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import type { LabStatus } from '../api/status.js';
import { LineFramer } from '../host/lines.js';

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

/** Longest journal line read: events are small (errors carry only code and message); this bounds a damaged file. */
export const MAX_JOURNAL_LINE = 16 * 1024 * 1024;

/** Splits appended bytes into events; a torn last line waits for its end, a malformed or overlong one is skipped. */
export class JournalParser {
  private out: JournalEvent[] = [];
  // Bytes, not text: a character split between two reads is joined before it is decoded.
  private readonly lines = new LineFramer({ max: MAX_JOURNAL_LINE, onLine: (line) => this.parse(line.toString('utf8')) });

  push(chunk: Buffer | string): JournalEvent[] {
    this.lines.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    const out = this.out;
    this.out = [];
    return out;
  }

  private parse(line: string): void {
    try {
      const e = JSON.parse(line) as JournalEvent;
      if (e && typeof e === 'object' && typeof e.type === 'string') this.out.push(e);
    } catch {
      // not a journal line (a torn write after a full disk): skip it
    }
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
      for (const e of parser.push(Buffer.from(buf.subarray(0, bytesRead)))) if (!closed) onEvent(e);
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
