import { openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConsoleHub, MAX_LINE } from '../../src/machine/console.js';
import { exactLine, watchReadiness } from '../../src/machine/readiness.js';
import { TopoError } from '../../src/errors.js';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('ConsoleHub', () => {
  it('bounds lines: 8 MB without a newline becomes lines of at most MAX_LINE, each byte seen once', () => {
    const hub = new ConsoleHub();
    const lines: string[] = [];
    hub.on('line', (l) => lines.push(l));
    const chunk = Buffer.alloc(64 * 1024, 'a');
    for (let i = 0; i < 128; i++) hub.push(chunk);
    hub.flush();
    expect(lines.every((l) => l.length <= MAX_LINE)).toBe(true);
    expect(lines.reduce((n, l) => n + l.length, 0)).toBe(128 * chunk.length);
    expect(hub.recent().length).toBeLessThanOrEqual(256 * 1024);
  });

  it('splits \\r\\n lines across chunks and gives every reader the raw bytes', () => {
    const hub = new ConsoleHub();
    const lines: string[] = [];
    const raw: Buffer[] = [];
    hub.on('line', (l) => lines.push(l));
    hub.on('data', (b) => raw.push(b));
    hub.push(Buffer.from('hel'));
    hub.push(Buffer.from('lo\r\nwor'));
    hub.push(Buffer.from('ld\r\n'));
    expect(lines).toEqual(['hello', 'world']);
    expect(Buffer.concat(raw).toString()).toBe('hello\r\nworld\r\n');
  });

  it('a log write error (disk full) is a fault event, not a crash', () => {
    const hub = new ConsoleHub(openSync('/dev/full', 'w'));
    const faults: Error[] = [];
    hub.on('fault', (e) => faults.push(e));
    hub.push(Buffer.from('line\n'));
    hub.push(Buffer.from('more\n'));
    expect(faults).toHaveLength(1);
    expect(faults[0]!.message).toMatch(/cannot write the console log: .*ENOSPC/);
    hub.close();
  });

  it('the log file gets every byte; input goes where setInput says', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'topo-con-'));
    const file = path.join(dir, 'n.log');
    const hub = new ConsoleHub(openSync(file, 'w'));
    hub.push(Buffer.from('abc\n'));
    const typed: Buffer[] = [];
    expect(hub.write(Buffer.from('x'))).toBe(false);
    hub.setInput((b) => typed.push(b));
    expect(hub.write(Buffer.from('ls\n'))).toBe(true);
    hub.close();
    expect(readFileSync(file, 'utf8')).toBe('abc\n');
    expect(Buffer.concat(typed).toString()).toBe('ls\n');
  });
});

describe('readiness', () => {
  const watch = (hub: ConsoleHub, line: string, timeoutMs = 200) =>
    watchReadiness({
      node: 'n',
      console: hub,
      patterns: [exactLine(line)],
      timeoutMs,
      hasConsole: true,
      exited: new Promise<TopoError>(() => undefined),
      timeoutHint: 'hint',
      tails: () => ({ stderrTail: '', consoleTail: '' }),
    });

  it("a run: command's output that contains the ready line does not make the node ready", async () => {
    const hub = new ConsoleHub();
    const ready = watch(hub, 'topo-guest: ready 00ff');
    hub.push(Buffer.from('topo-run[0]: topo-guest: ready 00ff\r\n'));
    hub.push(Buffer.from('topo-guest: ready\r\n'));
    hub.push(Buffer.from('topo-guest: ready 00ff and more\r\n'));
    await expect(ready).rejects.toMatchObject({ code: 'E_READY_TIMEOUT' });
  });

  it("the guest's exact line does", async () => {
    const hub = new ConsoleHub();
    const ready = watch(hub, 'topo-guest: ready 00ff', 5000);
    hub.push(Buffer.from('noise\r\ntopo-guest: ready 00ff\r\n'));
    await expect(ready).resolves.toBeUndefined();
    expect(hub.listenerCount('line')).toBe(0);
  });
});
