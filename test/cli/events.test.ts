// The journal reader behind `topo events` and `topo web`: past lines, appended lines, torn writes, formatting.
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatEvent } from '../../src/cli/events.js';
import { topo } from '../helpers/cli.js';
import { until } from '../helpers/wait.js';
import { countersEvents, JournalParser, MAX_JOURNAL_LINE, readJournal, type JournalEvent } from '../../src/control/journal-follow.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});


describe('journal follow', () => {
  it('reads the past, then every appended event, a torn line only once complete', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'topo-events-'));
    dirs.push(dir);
    const file = path.join(dir, 'events.jsonl');
    await writeFile(file, '{"time":"t0","type":"lab","state":"ready","at":1}\nnot json\n');
    const seen: JournalEvent[] = [];
    const f = await readJournal(file, (e) => seen.push(e), { follow: true });
    expect(seen).toEqual([{ time: 't0', type: 'lab', state: 'ready', at: 1 }]);
    await appendFile(file, '{"time":"t1","type":"link","link":"a:eth0--b:eth0","sta');
    await appendFile(file, 'te":"down","at":2}\n');
    await until('the two appended events', () => seen.length === 2, { timeoutMs: 25_000 });
    expect(seen[1]).toEqual({ time: 't1', type: 'link', link: 'a:eth0--b:eth0', state: 'down', at: 2 });
    await f.close();
    await appendFile(file, '{"time":"t2","type":"lab","state":"stopped","at":3}\n');
    await new Promise((r) => setTimeout(r, 1200));
    expect(seen).toHaveLength(2);
  });

  it('without follow, reads what is there and stops', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'topo-events-'));
    dirs.push(dir);
    const file = path.join(dir, 'events.jsonl');
    await writeFile(file, '{"time":"t0","type":"notice","message":"m"}\n');
    const seen: JournalEvent[] = [];
    await (await readJournal(file, (e) => seen.push(e), { follow: false })).close();
    expect(seen.map((e) => e.type)).toEqual(['notice']);
  });

  it('an event whose UTF-8 character straddles two 64 KiB reads comes out whole', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'topo-events-'));
    dirs.push(dir);
    const file = path.join(dir, 'events.jsonl');
    const head = '{"time":"t0","type":"notice","message":"';
    // "é" is two bytes: put its first at the last byte of the first read.
    const pad = 'x'.repeat(64 * 1024 - 1 - head.length);
    await writeFile(file, `${head}${pad}é"}\n{"time":"t1","type":"notice","message":"après"}\n`);
    const seen: JournalEvent[] = [];
    await (await readJournal(file, (e) => seen.push(e), { follow: false })).close();
    expect(seen.map((e) => String(e.message).slice(-5))).toEqual(['xxxxé', 'après']);
  });

  it('a parser skips a line longer than MAX_JOURNAL_LINE and reads the next one', () => {
    const p = new JournalParser();
    expect(p.push(Buffer.alloc(MAX_JOURNAL_LINE + 1, 0x20))).toEqual([]);
    expect(p.push('{"time":"a","type":"x"}\n{"time":"b","type":"y"}\n')).toEqual([{ time: 'b', type: 'y' }]);
  });

  it('a parser keeps a torn last line for the next chunk', () => {
    const p = new JournalParser();
    expect(p.push('{"time":"a","ty')).toEqual([]);
    expect(p.push('pe":"x"}\n')).toEqual([{ time: 'a', type: 'x' }]);
  });
});

describe('counters and lines', () => {
  it('one counters event per forwarded endpoint, none for direct links', () => {
    const c = { rx: { frames: 1, bytes: 60 }, tx: { frames: 2, bytes: 120 }, drops: { loss: 0, queue: 0, malformed: 0, down: 3, disconnected: 0 } };
    const status = {
      links: [
        { id: 'l1', endpoints: ['a:eth0', 'b:eth0'], state: 'up', kind: 'forwarded', counters: [{ endpoint: 'a:eth0', ...c }, { endpoint: 'b:eth0', ...c }] },
        { id: 'l2', endpoints: ['a:eth1', 'b:eth1'], state: 'up', kind: 'direct' },
      ],
    } as never;
    const events = countersEvents(status, 'T');
    expect(events.map((e) => [e.link, e.endpoint])).toEqual([['l1', 'a:eth0'], ['l1', 'b:eth0']]);
    expect(events[0]).toEqual({ time: 'T', type: 'counters', link: 'l1', endpoint: 'a:eth0', ...c });
    expect(formatEvent(events[0]!)).toBe('T counters l1 a:eth0 sent 1 frames/60 B, got 2 frames/120 B, drops down=3');
  });

  it('formats the library events readably', () => {
    expect(formatEvent({ time: 'T', type: 'node', node: 'r1', state: 'ready', readyMs: 1200, at: 5 })).toBe('T node     r1 ready in 1200 ms');
    expect(formatEvent({ time: 'T', type: 'link', link: 'x', state: 'down', at: 5 })).toBe('T link     x down');
    expect(formatEvent({ time: 'T', type: 'node', node: 'r1', state: 'failed', at: 5, error: { code: 'E', message: 'boom' } })).toBe('T node     r1 failed: boom');
  });
});

describe('topo events arguments', () => {
  it('a bad --interval is one line and exit 2, before looking for a lab', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'topo-events-'));
    dirs.push(dir);
    const r = await topo(['events', '--interval', '5x'], { TOPO_RUN_DIR: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe('topo: error: --interval "5x" is not a duration of at least 100ms (e.g. 1s, 500ms)');
  });
});
