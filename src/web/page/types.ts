// What the server pushes (src/web/live.ts), seen from the page.
export interface NodeStatus {
  name: string;
  state: string;
  restarts: number;
  pid?: number;
}

export interface Counters {
  endpoint: string;
  rx: { frames: number; bytes: number };
  tx: { frames: number; bytes: number };
  drops: Record<string, number>;
}

export interface LinkStatus {
  id: string;
  endpoints: string[];
  state: 'up' | 'down';
  kind: 'direct' | 'forwarded';
  counters?: Counters[];
}

export interface Impairment {
  link: string;
  to: string;
  impair?: Record<string, number>;
}

export interface LiveState {
  status: { lab: string; state: string; nodes: NodeStatus[]; links: LinkStatus[] };
  impairments: Impairment[];
}

export interface JournalEvent {
  time: string;
  type: string;
  [key: string]: unknown;
}

export type PushMessage = { type: 'state'; state: LiveState } | { type: 'event'; event: JournalEvent };
