// The control server needs only the lab interface: a plain object implementing LabHandle (no VM, no runtime Lab) is
// served, reached by connect() and by the CLI, and what clients ask reaches it unchanged and back.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Duplex, PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LabHandle, NodeHandle } from '../../src/api/handles.js';
import type { ServedLab } from '../../src/api/served.js';
import type { ImpairOptions, ImpairmentStatus } from '../../src/api/dataplane.js';
import type { OpEvent, SupervisorEvent } from '../../src/api/events.js';
import type { LabStatus } from '../../src/api/status.js';
import type { Impairment } from '../../src/topology/model.js';
import { checkNode, linkIndex, statusNames } from '../../src/api/lookup.js';
import { normalizeExecOptions } from '../../src/api/exec-options.js';
import { serveLab, type ControlServer } from '../../src/control/server.js';
import { connect, type RemoteLab } from '../../src/control/remote-lab.js';
import { linkCommand } from '../../src/cli/link.js';
import { impairCommand } from '../../src/cli/impair.js';
import { handleApi } from '../../src/web/api.js';
import http from 'node:http';

let base: string;
let server: ControlServer;
let remote: RemoteLab;
const journal: SupervisorEvent[] = [];
const calls: string[] = [];
const impairSeen: { endpoint: string; opts?: ImpairOptions }[] = [];
const downSeen: unknown[] = [];
const consoles = new Set<Duplex>();
let linkState: 'up' | 'down' = 'up';

function status(): LabStatus {
  return {
    lab: 'fake',
    file: '/dev/null',
    accel: 'tcg',
    seed: 1,
    pid: process.pid,
    startedAt: new Date(0).toISOString(),
    uptimeMs: 1,
    state: 'ready',
    runDir: path.join(base, 'fake'),
    captureDir: base,
    nodes: ['a', 'b'].map((name) => ({ name, state: 'ready' as const, restarts: 0, ports: [{ guest: 22, host: 40022, protocol: 'tcp' as const, bind: '127.0.0.1' }], channels: [] })),
    links: [{ id: 'l1', endpoints: ['a:eth0', 'b:eth0'], state: linkState, kind: 'forwarded' }],
  };
}

/** A lab that is nothing but the interface. */
const fake: LabHandle = {
  name: 'fake',
  status: async () => status(),
  node(name): NodeHandle {
    checkNode(statusNames(status()), name);
    return {
      name,
      exec: (cmd, opts) => fake.exec(name, cmd, opts),
      console: () => {
        const c = new PassThrough();
        consoles.add(c);
        c.on('close', () => consoles.delete(c));
        return c;
      },
      waitForConsole: () => Promise.reject(new Error('not used')),
      channel: () => new PassThrough(),
      restart: async () => void calls.push(`restart ${name}`),
      stop: async () => void calls.push(`stop ${name}`),
      start: async () => void calls.push(`start ${name}`),
      kill: async () => void calls.push(`kill ${name}`),
    };
  },
  link(endpoint) {
    const { id } = status().links[linkIndex(statusNames(status()), endpoint)]!;
    const result = (opts?: ImpairOptions): ImpairmentStatus[] => [{ link: id, to: opts?.direction === 'out' ? 'b:eth0' : 'a:eth0', impair: { delayMs: 40 } as Impairment }];
    return {
      id,
      down: async () => void (linkState = 'down'),
      up: async () => void (linkState = 'up'),
      impair: async (_spec, opts) => (impairSeen.push({ endpoint, opts }), result(opts)),
      clear: async (opts) => (impairSeen.push({ endpoint, opts }), []),
      capture: () => Readable.from([Buffer.from('pcap')]),
    };
  },
  async exec(node, cmd, opts) {
    checkNode(statusNames(status()), node);
    const o = normalizeExecOptions(opts, node);
    const exit = /^exit (\d+)$/.exec(String(cmd));
    return { exitCode: exit ? Number(exit[1]) : 0, timedOut: false, stdout: Buffer.concat([Buffer.from(`${o.timeoutMs}:`), o.stdin ?? Buffer.alloc(0)]), stderr: Buffer.from('err') };
  },
  ports: async (node) => status().nodes.find((n) => n.name === node)!.ports,
  hostPort: async () => 40022,
  impairments: async () => [{ link: 'l1', to: 'a:eth0' }],
  down: async (opts) => void downSeen.push(opts),
  close: async () => undefined,
  [Symbol.asyncDispose]: async () => undefined,
};

beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-fakelab-'));
  await mkdir(path.join(base, 'fake'), { mode: 0o700 });
  const host: ServedLab = {
    file: (n) => path.join(base, 'fake', n),
    createDir: async () => undefined,
    createFile: async () => undefined,
    consoleLog: () => Buffer.from('line1\nline2\n'),
    journal: (e) => void journal.push(e),
  };
  server = await serveLab(fake, host);
  remote = await connect('fake', { runDirBase: base });
});
afterAll(async () => {
  await remote?.close();
  await server?.close();
  await rm(base, { recursive: true, force: true });
});

const ops = () => journal.filter((e): e is OpEvent => e.type === 'op').map(({ ms: _ms, ...e }) => e);

describe('the control server over a bare LabHandle', () => {
  it('exec: the exit code, output, stdin and timeout pass through both ways, and the op is journaled', async () => {
    const r = await remote.node('a').exec('exit 7', { stdin: 'in', timeout: 1234 });
    expect(r).toMatchObject({ exitCode: 7, timedOut: false });
    expect(r.stdout.toString()).toBe('1234:in');
    expect(r.stderr.toString()).toBe('err');
    expect(ops().at(-1)).toMatchObject({ op: 'exec', node: 'a', cmd: 'exit 7', timeoutMs: 1234, stdin: 'in', exit: 7 });
  });

  it('an unknown node is the interface own error, through the server', async () => {
    await expect(remote.exec('zz', 'true')).rejects.toMatchObject({ code: 'E_NO_NODE', message: 'no node "zz" in lab fake (nodes: a, b)' });
  });

  it('impair: the endpoint and direction reach the lab unchanged; --show asks impairments()', async () => {
    const r = await remote.link('a:eth0').impair({ delay: '40ms' }, { direction: 'out' });
    expect(impairSeen.at(-1)).toEqual({ endpoint: 'a:eth0', opts: { direction: 'out' } });
    expect(r).toEqual([{ link: 'l1', to: 'b:eth0', impair: { delayMs: 40 } }]);
    expect(ops().at(-1)).toMatchObject({ op: 'impair', endpoint: 'a:eth0', direction: 'out' });
    expect(await remote.impairments()).toEqual([{ link: 'l1', to: 'a:eth0' }]);
  });

  it('the CLI reaches it too: `topo link` and `topo impair` print what the lab answered', async () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await linkCommand(['fake', 'l1', 'down'], { runDir: base })).toBe(0);
      expect(await impairCommand(['fake', 'a:eth0'], { runDir: base, delay: '40ms', direction: 'in' })).toBe(0);
      expect(out.mock.calls.map((c) => String(c[0]))).toEqual(['fake: link l1 (a:eth0 b:eth0) down\n', 'fake: l1 to a:eth0: delay 40ms\n']);
    } finally {
      out.mockRestore();
    }
    expect(impairSeen.at(-1)).toEqual({ endpoint: 'a:eth0', opts: { direction: 'in' } });
    // A link named by its id is journaled as its first endpoint, as a scenario step names it.
    expect(ops().find((e) => e.op === 'link')).toMatchObject({ endpoint: 'a:eth0', state: 'down' });
    await remote.link('a:eth0').up();
    expect((await remote.status()).links[0]!.state).toBe('up');
  });

  it('logs: the past from the run directory, --tail, then what the console prints', async () => {
    const tail = await remote.open({ op: 'logs', node: 'b', tail: 1 });
    const text = await new Promise<string>((resolve) => {
      let s = '';
      tail.on('data', (b: Buffer) => (s += b.toString()));
      tail.on('close', () => resolve(s));
      tail.resume();
    });
    expect(text).toBe('line2\n');
    const seen = remote.node('b').waitForConsole(/^marker-\d+$/, { timeout: 10_000 });
    for (let i = 0; i < 100 && consoles.size === 0; i++) await new Promise((r) => setTimeout(r, 20));
    for (const c of consoles) c.write('noise\nmarker-42\r\n');
    expect(await seen).toBe('marker-42');
  });

  it('node actions and down: the server asks the interface, naming the stop `topo down`', async () => {
    await remote.node('b').restart();
    expect(calls).toEqual(['restart b']);
    await remote.down();
    expect(downSeen).toEqual([{ by: 'topo down' }]);
  });
});

describe("`topo web`'s API goes through the same client", () => {
  it('exec and link from the page reach the lab and answer as before', async () => {
    const web = await connect('fake', { runDirBase: base });
    const server = http.createServer((req, res) => void handleApi({ remote: web, lab: 'fake', changed: () => undefined }, req, res, new URL(req.url ?? '/', 'http://x')));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const post = async (what: string, body: unknown) => {
      const res = await fetch(`http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}/api/${what}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as unknown };
    };
    try {
      expect(await post('exec', { node: 'a', cmd: 'exit 3' })).toEqual({ status: 200, body: { exitCode: 3, timedOut: false, stdout: '60000:', stderr: 'err' } });
      expect(await post('link', { link: 'a:eth0', state: 'down' })).toMatchObject({ status: 200, body: { id: 'l1', state: 'down' } });
      expect(await post('exec', { node: 'zz', cmd: 'true' })).toMatchObject({ status: 422, body: { error: { code: 'E_NO_NODE' } } });
    } finally {
      server.close();
      await web.close();
    }
  });
});
