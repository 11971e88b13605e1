// A lab broken by hand through the CLI (exec, cp, link down, impair) becomes a bundle whose steps replay it
// (issue 22 item 5): `topo bundle` writes the journaled operations as steps, `topo test BUNDLE` runs them again.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { XMLParser } from 'fast-xml-parser';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topo } from '../helpers/cli.js';

let base: string;
const run = (args: string[]) => topo(args, { TOPO_RUN_DIR: base });

beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-hand-'));
  const file = path.join(base, 'hand.yaml');
  await writeFile(path.join(base, 'motd'), 'from files:\n');
  await writeFile(file, 'name: hand\ndefaults: { memory: 192M }\nnodes:\n  a: {}\n  b: { files: { /etc/motd: ./motd } }\nlinks:\n  - { endpoints: [a:eth1, b:eth1], forward: true }\n');
  const up = await run(['up', '--detach', file, '--accel', 'tcg']);
  expect(up.exitCode, up.all).toBe(0);
});

afterAll(async () => {
  await run(['down', '--all']);
  await rm(base, { recursive: true, force: true });
});

describe('hand work through the CLI becomes a replayable bundle', () => {
  it('records exec (with its exit code), cp, link and impair as steps that topo test BUNDLE replays', async () => {
    const note = path.join(base, 'note.txt');
    await writeFile(note, 'broken by hand\n');
    for (const [args, code] of [
      [['exec', 'a', '--', 'ip link set eth1 mtu 1280'], 0],
      [['exec', 'b', '--', 'sh', '-c', 'echo failing on purpose >&2; exit 3'], 3],
      [['cp', note, 'a:/tmp/note.txt'], 0],
      [['link', 'a:eth1', 'down'], 0],
      [['impair', 'a:eth1', '--delay', '20ms', '--direction', 'out'], 0],
      [['exec', 'a', '--', 'cat /tmp/note.txt; cat /sys/class/net/eth1/mtu'], 0],
    ] as const) {
      const r = await run([...args]);
      expect(r.exitCode, `${args.join(' ')}: ${r.all}`).toBe(code);
    }
    const bundle = path.join(base, 'hand.tar.gz');
    const made = await run(['bundle', '-o', bundle]);
    expect(made.exitCode, made.all).toBe(0);
    const dir = path.join(base, 'unpacked');
    await mkdir(dir);
    await tar.x({ file: bundle, cwd: dir });
    const scenario = parse(await readFile(path.join(dir, 'scenario.yaml'), 'utf8')) as { steps: Record<string, unknown>[] };
    expect(scenario.steps.slice(1)).toEqual([
      { exec: { node: 'a', cmd: 'ip link set eth1 mtu 1280', timeout: '300000ms', expect: { exit: 0 } } },
      { exec: { node: 'b', cmd: ['sh', '-c', 'echo failing on purpose >&2; exit 3'], timeout: '300000ms', expect: { exit: 3 } } },
      { copy: { from: 'recorded/1-note.txt', to: 'a:/tmp/note.txt' } },
      { link: { endpoints: ['a:eth1'], state: 'down' } },
      { impair: { endpoints: ['a:eth1'], delay: '20ms', direction: 'out' } },
      { exec: { node: 'a', cmd: 'cat /tmp/note.txt; cat /sys/class/net/eth1/mtu', timeout: '300000ms', expect: { exit: 0 } } },
    ]);
    expect(await readFile(path.join(dir, 'recorded/1-note.txt'), 'utf8')).toBe('broken by hand\n');
    // files: sources travel in the bundle, named there by its topology (the lab's directory may be gone at replay).
    expect(await readFile(path.join(dir, 'files/host', base, 'motd'), 'utf8')).toBe('from files:\n');
    expect(await readFile(path.join(dir, 'topology.yaml'), 'utf8')).toContain(`/etc/motd: files/host${base}/motd`);
    const events = await readFile(path.join(dir, 'events.jsonl'), 'utf8');
    expect(events).toMatch(/"type":"op","ms":\d+,"op":"exec","node":"a","cmd":"cat \/tmp\/note.txt; cat \/sys\/class\/net\/eth1\/mtu".*"stdout":"broken by hand\\n1280\\n"/);
    expect((await run(['down'])).exitCode).toBe(0);

    const junit = path.join(base, 'replay.xml');
    const replay = await run(['test', bundle, '--accel', 'tcg', '--junit', junit]);
    expect(replay.exitCode, replay.all).toBe(0);
    expect(replay.stdout).toMatch(/PASS {2}3\. b: sh -c echo failing on purpose >&2; exit 3/);
    expect(replay.stdout).toMatch(/PASS {2}5\. link a:eth1 down/);
    expect(replay.stdout).toMatch(/passed: 7\/7 steps/);
    // The replay keeps the proof: the last step's output is its testcase's system-out.
    const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (n) => n === 'testcase' }).parse(await readFile(junit, 'utf8'));
    const cases = xml.testsuites.testsuite.testcase as { name: string; 'system-out'?: string; 'system-err'?: string }[];
    expect(cases.at(-1)?.['system-out']).toBe('broken by hand\n1280');
    expect(cases[2]?.['system-err']).toBe('failing on purpose');
  }, 300_000);
});
