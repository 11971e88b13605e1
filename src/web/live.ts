// The lab's state as the page sees it: status and impairments from the control socket, refreshed on every journal
// event (so a change reaches the page at once) and every second (the counters behind the link rates).
import path from 'node:path';
import type { RemoteLab } from '../control/remote-lab.js';
import { readJournal, type JournalEvent, type JournalFollower } from '../control/journal-follow.js';
import type { ImpairmentStatus } from '../api/dataplane.js';
import type { LabStatus } from '../api/status.js';

export interface LiveState {
  status: LabStatus;
  impairments: ImpairmentStatus[];
}

/** What goes over the state WebSocket, one JSON text message each. */
export type PushMessage = { type: 'state'; state: LiveState } | { type: 'event'; event: JournalEvent };

export class LiveLab {
  private readonly listeners = new Set<(m: PushMessage) => void>();
  private last = '';
  private current: LiveState;
  private journal?: JournalFollower;
  private timer?: NodeJS.Timeout;
  private refreshing?: Promise<void>;
  private again = false;
  /** The last events, for a page that connects later. */
  private readonly recent: JournalEvent[] = [];

  constructor(
    private readonly remote: RemoteLab,
    status: LabStatus,
  ) {
    this.current = { status, impairments: [] };
  }

  async start(refreshMs = 1000): Promise<void> {
    await this.refresh();
    this.journal = await readJournal(
      path.join(this.current.status.runDir, 'events.jsonl'),
      (event) => {
        this.recent.push(event);
        if (this.recent.length > 200) this.recent.shift();
        this.send({ type: 'event', event });
        void this.refresh();
      },
      { follow: true },
    ).catch(() => undefined);
    this.timer = setInterval(() => void this.refresh(), refreshMs);
  }

  subscribe(fn: (m: PushMessage) => void): () => void {
    for (const event of this.recent) fn({ type: 'event', event });
    fn({ type: 'state', state: this.current });
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get state(): LiveState {
    return this.current;
  }

  /** One refresh at a time; a request while one runs queues exactly one more (the newest state wins). */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.again = false;
        try {
          const status = await this.remote.status();
          const impairments = await this.remote.impairments().catch((): ImpairmentStatus[] => []);
          this.current = { status, impairments };
          // uptimeMs changes every time: compare what the page draws.
          const key = JSON.stringify({ ...status, uptimeMs: 0, impairments });
          if (key !== this.last) {
            this.last = key;
            this.send({ type: 'state', state: this.current });
          }
        } catch {
          return; // the lab is gone; the server stops with it
        }
      } while (this.again);
    })().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private send(m: PushMessage): void {
    for (const fn of this.listeners) fn(m);
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.journal?.close();
    this.listeners.clear();
  }
}
