// `topo events -f --json --interval` against a real lab that changes under it: a link goes down, counters flow, the lab stops.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ctrlC, topo, waitForOutput } from '../helpers/cli.js';

let base: string;
const run = (args: string[]) => topo(args, { TOPO_RUN_DIR: base });
/** The JSON lines of some output (a chunk seen mid-line is skipped). */
const lines = (out: string) =>
  out.split('\n').flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });

beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-events-'));
  const file = path.join(base, 'ev.yaml');
  await writeFile(file, ['name: ev', 'defaults: { memory: 192M, host_network: false }', 'nodes: { a: {}, b: {} }', 'links:', '  - endpoints: [a:eth0, b:eth0]', '    addresses: [10.0.12.1/24, 10.0.12.2/24]', ''].join('\n'));
  const up = await run(['up', '--detach', '--forward-all', file, '--accel', 'tcg']);
  expect(up.exitCode, up.all).toBe(0);
});

afterAll(async () => {
  await run(['down', '--all']);
  await rm(base, { recursive: true, force: true });
});

describe('topo events', () => {
  it('prints the journal so far: both nodes and the lab ready', async () => {
    const r = await run(['events', 'ev']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/^\S+ node +a ready in \d+ ms$/m);
    expect(r.stdout).toMatch(/^\S+ lab +ready \(all 2 nodes ready\)$/m);
    const json = lines((await run(['events', '--json'])).stdout);
    expect(json.filter((e) => e.type === 'node' && e.state === 'ready').map((e) => e.node).sort()).toEqual(['a', 'b']);
    for (const e of json) expect(Number.isNaN(Date.parse(String(e.time)))).toBe(false);
  });

  it('-f ends on Ctrl-C with 130', async () => {
    const follow = topo(['events', 'ev', '-f'], { TOPO_RUN_DIR: base }, { group: true });
    await waitForOutput(follow, /lab +ready/);
    ctrlC(follow);
    expect((await follow).exitCode).toBe(130);
  });

  it('-f --json follows: a link taken down appears, counters come each interval, the lab stopping ends it', async () => {
    const follow = run(['events', 'ev', '-f', '--json', '--interval', '300ms']);
    await waitForOutput(follow, /"type":"counters"/);
    // A capture starting and stopping is journaled too.
    const started = waitForOutput(follow, /"message":"capture of l1 \(a:eth0\) started"/);
    const capture = topo(['capture', 'ev', 'a:eth0', '-w', path.join(base, 'a.pcap')], { TOPO_RUN_DIR: base }, { group: true });
    await started;
    const stopped = waitForOutput(follow, /"message":"capture of l1 \(a:eth0\) stopped"/);
    ctrlC(capture);
    await capture;
    await stopped;
    const linkDown = waitForOutput(follow, /"type":"link"[^\n]*"state":"down"/);
    const down = await run(['link', 'ev', 'a:eth0', 'down']);
    expect(down.exitCode, down.all).toBe(0);
    const seen = await linkDown;
    const link = lines(seen).find((e) => e.type === 'link')!;
    expect(link).toMatchObject({ type: 'link', link: expect.any(String), state: 'down', at: expect.any(Number) });
    const counters = lines(seen).filter((e) => e.type === 'counters');
    expect(new Set(counters.map((e) => e.endpoint))).toEqual(new Set(['a:eth0', 'b:eth0']));
    expect(counters[0]).toMatchObject({ link: link.link, rx: { frames: expect.any(Number), bytes: expect.any(Number) }, tx: expect.any(Object), drops: expect.objectContaining({ loss: 0 }) });
    expect((await run(['down', 'ev'])).exitCode).toBe(0);
    const r = await follow;
    expect(r.exitCode, r.all).toBe(0);
    const all = lines(r.stdout);
    // The lab's last word ends the follow: each node stopped, then the lab.
    expect(all.filter((e) => e.type !== 'counters').slice(-3)).toEqual([
      expect.objectContaining({ type: 'node', state: 'stopped' }),
      expect.objectContaining({ type: 'node', state: 'stopped' }),
      expect.objectContaining({ type: 'lab', state: 'stopped' }),
    ]);
  });
});
