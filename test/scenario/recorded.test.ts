// Hand work as a scenario (issue 22 item 5): the control operations a lab journaled become the bundle's steps.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { recorded } from '../../src/control/record.js';
import type { Request } from '../../src/control/protocol.js';
import type { OpEvent } from '../../src/api/events.js';
import type { Served } from '../../src/api/served.js';
import { UPLOAD_SCRIPT, DOWNLOAD_HEAD_SCRIPT, downloadBodyArgv } from '../../src/guest/copy-scripts.js';
import { loadScenario } from '../../src/scenario/load.js';
import { handScenario } from '../../src/scenario/recorded.js';
import { TopoError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

const op = (e: Omit<OpEvent, 'type' | 'ms'>) => ({ time: '2026-12-07T00:00:00.000Z', type: 'op', ms: 5, ...e });
const TOPOLOGY = 'name: pmtu\nnodes: { h1: {}, r: {}, h2: {} }\nlinks:\n  - endpoints: [h1:eth1, r:eth1]\n  - { endpoints: [r:eth2, h2:eth1], forward: true }\n';

describe('steps from the journal', () => {
  const journal = [
    { time: 't', type: 'lab', state: 'ready', at: 1 },
    op({ op: 'exec', node: 'h2', cmd: ['ip', 'link', 'set', 'eth1', 'mtu', '9000'], timeoutMs: 300_000, exit: 0, timedOut: false, stdout: '', stderr: '' }),
    op({ op: 'exec', node: 'h1', cmd: 'ping -c1 -M do -s 8000 10.0.2.2', exit: 1, timedOut: false, stdout: '100% packet loss\n', stderr: '' }),
    op({ op: 'exec', node: 'r', cmd: 'sh', stdin: 'echo hi\n', exit: 0, timedOut: false }),
    op({ op: 'console', node: 'r' }),
    op({ op: 'link', endpoint: 'r:eth2', state: 'down' }),
    op({ op: 'link', endpoint: 'r:eth9', state: 'up', error: { code: 'E_NO_LINK', message: 'no link "r:eth9"' } }),
    op({ op: 'impair', endpoint: 'h2:eth1', spec: { delay: '50ms', loss: '1%' }, direction: 'out' }),
    op({ op: 'impair', endpoint: 'h2:eth1', clear: true }),
    op({ op: 'node', node: 'h1', action: 'kill' }),
    op({ op: 'node', node: 'h1', action: 'start' }),
    op({ op: 'cp', node: 'r', to: 'r:/etc/frr.conf', file: 'recorded/1-frr.conf', bytes: 3 }),
    op({ op: 'cp', node: 'r', to: 'r:/x', file: '../../etc/shadow', bytes: 3 }),
    op({ op: 'cp', node: 'r', from: 'r:/var/log/messages', bytes: 10 }),
    op({ op: 'exec', node: 'h1', cmd: 'cat', stdinBytes: 4 }),
    { time: 't', type: 'step', state: 'pass', step: 1, name: 'x' },
  ];

  it('writes each operation as the step that replays it, and says what it leaves out', () => {
    const hand = handScenario(journal, { name: 'pmtu', seed: 7, firstNode: 'h1' });
    expect(hand.files).toEqual(['recorded/1-frr.conf']);
    expect(hand.notReplayed).toEqual([
      'console session on r: what was typed there is not recorded (console keystrokes are not steps)',
      'link r:eth9 up failed (E_NO_LINK: no link "r:eth9")',
      'cp -> r:/x: the uploaded file was not kept',
      'exec h1: cat: its stdin (4 bytes, not text) is not recorded',
    ]);
    expect(hand.text).toMatch(/^# Recorded from lab pmtu/);
    expect(hand.text).toContain('# not replayed: console session on r');
  });

  it('is a valid scenario: exec with the exit code seen by hand, link, impair, node actions, copies', async () => {
    const dir = tempDir('topo-hand-');
    writeFileSync(path.join(dir, 'topology.yaml'), TOPOLOGY);
    mkdirSync(path.join(dir, 'recorded'));
    writeFileSync(path.join(dir, 'recorded/1-frr.conf'), 'abc');
    const hand = handScenario(journal, { name: 'pmtu', seed: 7, firstNode: 'h1' });
    writeFileSync(path.join(dir, 'scenario.yaml'), hand.text);
    const res = await loadScenario(path.join(dir, 'scenario.yaml'));
    if (!res.ok) throw new Error(res.diagnostics.map((d) => `${d.line}: ${d.message}`).join('\n'));
    const s = res.scenario;
    expect(s.seed).toBe(7);
    expect(s.steps.map((x) => x.name)).toEqual([
      'the lab boots and h1 answers',
      'h2: ip link set eth1 mtu 9000',
      'h1: ping -c1 -M do -s 8000 10.0.2.2',
      'r: sh',
      'link r:eth2 down',
      'impair h2:eth1 delay 50ms, loss 1%',
      'impair h2:eth1 clear',
      'crash h1',
      'start h1',
      'copy recorded/1-frr.conf -> r:/etc/frr.conf',
      'copy r:/var/log/messages -> copied/11-messages',
    ]);
    expect(s.steps[1]).toMatchObject({ kind: 'exec', cmd: ['ip', 'link', 'set', 'eth1', 'mtu', '9000'], timeoutMs: 300_000, expect: { exit: 0 } });
    expect(s.steps[2]).toMatchObject({ kind: 'exec', expect: { exit: 1 } });
    expect(s.steps[3]).toMatchObject({ kind: 'exec', stdin: 'echo hi\n' });
    expect(s.steps[5]).toMatchObject({ kind: 'impair', link: 'l2', spec: { delay: '50ms', loss: '1%' }, direction: 'out' });
    expect(s.steps[9]).toMatchObject({ kind: 'copy', from: { local: path.join(dir, 'recorded/1-frr.conf') }, to: { node: 'r', path: '/etc/frr.conf' } });
  });
});

describe('the lab journals what its control socket serves', () => {
  function fakeLab() {
    const events: OpEvent[] = [];
    const files = new Map<string, Buffer>();
    const lab = {
      lab: { status: async () => ({ lab: 'pmtu', nodes: [], links: [{ id: 'l2', endpoints: ['r:eth2', 'h2:eth1'] }] }) },
      host: { journal: (e: OpEvent) => void events.push(e), createDir: async () => '', createFile: async (name: string, data: Buffer) => void files.set(name, Buffer.from(data)) },
    } as unknown as Served;
    return { lab, events, files };
  }
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const reply = (stdout = '', exitCode = 0) => Promise.resolve({ exitCode, timedOut: false, stdout: b64(stdout), stderr: '' });

  it('exec with its result, a link named by id as NODE:IFACE, an upload kept, a download as one cp, a failed op with its error', async () => {
    const { lab, events, files } = fakeLab();
    await recorded(lab, { op: 'exec', node: 'h1', cmd: 'ping x', timeoutMs: 1000 }, reply('\u001b[6nloss\n', 1));
    await recorded(lab, { op: 'link', endpoint: 'l2', state: 'down' }, Promise.resolve(undefined));
    await recorded(lab, { op: 'exec', node: 'r', cmd: ['sh', '-c', UPLOAD_SCRIPT, 'sh', '/etc/a b.conf', '644'], stdin: b64('conf') }, reply());
    await recorded(lab, { op: 'exec', node: 'r', cmd: ['sh', '-c', DOWNLOAD_HEAD_SCRIPT, 'sh', '/tmp/out'] }, reply('644 3\n'));
    await recorded(lab, { op: 'exec', node: 'r', cmd: downloadBodyArgv('/tmp/out') }, reply('abc'));
    await recorded(lab, { op: 'impair' } as Request, Promise.resolve([]));
    await expect(recorded(lab, { op: 'node', node: 'zz', action: 'kill' }, Promise.reject(new TopoError('no node "zz"', { code: 'E_NO_NODE' })))).rejects.toThrow('no node');
    expect(events.map(({ ms, ...e }) => (expect(ms).toBeGreaterThanOrEqual(0), e))).toEqual([
      { type: 'op', op: 'exec', node: 'h1', cmd: 'ping x', timeoutMs: 1000, exit: 1, timedOut: false, stdout: 'loss\n', stderr: '' },
      { type: 'op', op: 'link', endpoint: 'r:eth2', state: 'down' },
      { type: 'op', op: 'cp', node: 'r', to: 'r:/etc/a b.conf', bytes: 4, file: 'recorded/1-a_b.conf' },
      { type: 'op', op: 'cp', node: 'r', from: 'r:/tmp/out', bytes: 3 },
      { type: 'op', op: 'node', node: 'zz', action: 'kill', error: { code: 'E_NO_NODE', message: 'no node "zz"' } },
    ]);
    expect(files.get('recorded/1-a_b.conf')?.toString()).toBe('conf');
  });
});
