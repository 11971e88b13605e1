// The lab's event journal: every event (but console lines, which the logs hold) with its wall-clock time, one JSON line each.
import { closeSync, writeSync } from 'node:fs';
import type { SupervisorEvent } from '../api/events.js';

export class Journal {
  constructor(private fd: number | undefined) {}

  write(event: SupervisorEvent | Record<string, unknown>): void {
    if (this.fd === undefined || (event as SupervisorEvent).type === 'console') return;
    const { error, ...rest } = event as { error?: { code?: string; message?: string } };
    const line = { time: new Date().toISOString(), ...rest, ...(error ? { error: { code: error.code, message: error.message } } : {}) };
    try {
      writeSync(this.fd, `${JSON.stringify(line)}\n`);
    } catch {
      // A full disk must not take the lab down for its journal: stop journaling.
      this.close();
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    this.fd = undefined;
  }
}
