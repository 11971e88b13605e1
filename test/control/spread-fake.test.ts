// A lab spread over two runners, each a one-node lab of fake QEMUs (real guest agent under busybox) serving its
// control protocol over authenticated TCP, plus a third node whose runner is not there: SpreadLab and the CLI's
// --lab-file reach each node through its own runner; ps shows the missing one unreachable; down stops the others.
import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLabFile } from '../../src/control/lab-file.js';
import { serveLabTcp } from '../../src/control/server-tcp.js';
import type { ControlServer } from '../../src/control/server.js';
import { openSpreadLab, type SpreadLab } from '../../src/control/spread-lab.js';
import { servedLab } from '../../src/control/up.js';
import { topo } from '../helpers/cli.js';
import { startFakeLab, type FakeLab } from './fake-lab.js';

const secret = randomBytes(32);
const fakes: FakeLab[] = [];
const servers: ControlServer[] = [];
/** a, b and the absent c; the same without c. */
let withC: string;
let withoutC: string;
let closedPort: number;
let spread: SpreadLab;

async function labFile(file: string, nodes: Record<string, number>): Promise<string> {
  const control = Object.fromEntries(Object.entries(nodes).map(([n, port]) => [n, { control: `127.0.0.1:${port}` }]));
  await writeFile(file, JSON.stringify({ topo: 'lab', version: 1, lab: 'spread', epoch: 1, secret: secret.toString('hex'), nodes: control }));
  await chmod(file, 0o600);
  return file;
}

beforeAll(async () => {
  // One runner per node, as `topo node` runs them: the lab's name is the same, the node view its own.
  fakes.push(await startFakeLab('spread', 'nodes:\n  a: {}\n'));
  fakes.push(await startFakeLab('spread', 'nodes:\n  b: {}\n'));
  const ports: number[] = [];
  for (const f of fakes) {
    const s = await serveLabTcp(f.lab, servedLab(f.lab), { host: '127.0.0.1', port: 0, secret });
    servers.push(s);
    ports.push((s as ControlServer & { address(): net.AddressInfo }).address().port);
  }
  const free = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => free.once('listening', r));
  closedPort = (free.address() as net.AddressInfo).port;
  await new Promise((r) => free.close(r));
  withC = await labFile(path.join(fakes[0]!.base, 'lab.json'), { a: ports[0]!, b: ports[1]!, c: closedPort });
  withoutC = await labFile(path.join(fakes[0]!.base, 'lab-ab.json'), { a: ports[0]!, b: ports[1]! });
  spread = await openSpreadLab(await loadLabFile(withC));
}, 120_000);
afterAll(async () => {
  await spread?.close();
  for (const s of servers) await s.close();
  // Started last, stopped first: each restores the environment the one before it saw.
  for (const f of fakes.reverse()) await f.stop();
});


describe('a lab spread over runners', () => {
  it('status: each node from its runner, the absent runner\'s node unreachable', async () => {
    const s = await spread.status();
    expect(s.nodes.map((n) => [n.name, n.state])).toEqual([['a', 'ready'], ['b', 'ready'], ['c', 'unreachable']]);
  });

  it('exec runs on the node\'s own runner (the command sees the environment its runner\'s fake QEMU was started with)', async () => {
    // Each runner's fake QEMU logs to its own file, and the agent's commands inherit that variable.
    expect((await spread.exec('a', 'echo $FAKE_QEMU_LOG')).stdout.toString().trim()).toBe(fakes[0]!.log);
    expect((await spread.node('b').exec('echo $FAKE_QEMU_LOG')).stdout.toString().trim()).toBe(fakes[1]!.log);
  });

  it('topo ps --lab-file: the nodes, the unreachable one with its reason', async () => {
    const r = await topo(['ps', '--lab-file', withC]);
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]!.replace(/seed \d+  up .+(?=  spread$)/, 'seed N  up T')).toBe(`spread  ready  ${withC}  accel tcg  seed N  up T  spread`);
    expect(lines.filter((l) => /^ {2}[abc] /.test(l)).map((l) => l.trim().split(/\s+/).slice(0, 2).join(' '))).toEqual(['a ready', 'b ready', 'c unreachable']);
    expect(lines).toContain(`  c: lab spread: the runner at 127.0.0.1:${closedPort} does not answer (ECONNREFUSED)`);
    const json = await topo(['ps', '--json'], { TOPO_LAB_FILE: withC });
    expect((JSON.parse(json.stdout) as { nodes: { name: string }[] }[])[0]!.nodes.map((n) => n.name)).toEqual(['a', 'b', 'c']);
  });

  it('topo exec --lab-file (or TOPO_LAB_FILE) NODE -- cmd runs on that node; a wrong lab name or events is one line', async () => {
    const r = await topo(['exec', '--lab-file', withC, 'b', '--', 'echo $((6*7)); exit 3']);
    expect({ code: r.exitCode, out: r.stdout }).toEqual({ code: 3, out: '42' });
    const env = await topo(['exec', 'spread', 'a', '--', 'echo', 'hi there'], { TOPO_LAB_FILE: withC });
    expect({ code: env.exitCode, out: env.stdout }).toEqual({ code: 0, out: 'hi there' });
    const c = await topo(['exec', '--lab-file', withC, 'c', '--', 'true']);
    expect({ code: c.exitCode, err: c.stderr }).toEqual({
      code: 1, err: `topo: error: c: lab spread: the runner at 127.0.0.1:${closedPort} does not answer (ECONNREFUSED) (is the runner up and its control port reachable from here?)`,
    });
    const other = await topo(['exec', '--lab-file', withC, 'ring', 'a', '--', 'true']);
    expect({ code: other.exitCode, err: other.stderr }).toEqual({ code: 2, err: `topo: error: the lab file ${withC} is of lab spread, not ring (drop the lab name, or use the lab file of ring)` });
    const events = await topo(['events', '--lab-file', withC]);
    expect(events.exitCode).toBe(2);
    expect(events.stderr).toMatch(/^topo: error: topo events cannot be used with --lab-file: /);
  });

  it('topo logs, cp and impair --show --lab-file: streams and requests reach the right runner', async () => {
    const logs = await topo(['logs', '--lab-file', withoutC, 'b']);
    expect(logs.exitCode).toBe(0);
    expect(logs.stdout).toContain('booting b');
    expect(logs.stdout).not.toContain('booting a');
    const local = path.join(fakes[0]!.base, 'from-a.txt');
    const cp = await topo(['cp', '--lab-file', withoutC, 'a:/proc/self/environ', local]);
    expect(cp.exitCode, cp.stderr).toBe(0);
    // The reading process ran under a's runner: its environment names a's fake QEMU log.
    expect((await readFile(local, 'latin1')).split('\0')).toContain(`FAKE_QEMU_LOG=${fakes[0]!.log}`);
    const show = await topo(['impair', '--show', '--lab-file', withoutC]);
    expect({ code: show.exitCode, out: show.stdout }).toEqual({ code: 0, out: 'spread: no forwarded links (start the lab with --forward-all or mark links forward: true)' });
  });

  it('topo test FILE --lab-file runs the steps on the spread lab (--attach LAB too, when it is the lab file\'s)', async () => {
    const dir = fakes[0]!.base;
    await writeFile(path.join(dir, 'spread.yaml'), 'name: spread\nnodes:\n  a: {}\n  b: {}\n');
    const file = path.join(dir, 'on-b.scenario.yaml');
    // b's runner's fake QEMU logs into b's runner's directory.
    await writeFile(file, `name: on-b\ntopology: ./spread.yaml\nsteps:\n  - exec: { node: b, cmd: "echo $FAKE_QEMU_LOG", expect: { stdout: "${path.basename(fakes[1]!.base)}" } }\n`);
    // c's runner is away in this lab file's lab: a lab file of a and b only.
    const r = await topo(['test', file, '--lab-file', withoutC]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/^on-b \(.*on-b\.scenario\.yaml on lab spread, seed \d+, 1 steps?\)$/m);
    expect(r.stderr.trimEnd()).toBe('  lab spread is still up; the steps left no link, impairment or node changed');
    const named = await topo(['test', file, '--attach', 'spread', '--lab-file', withoutC]);
    expect(named.exitCode, named.all).toBe(0);
    const wrong = await topo(['test', file, '--attach', 'ring', '--lab-file', withoutC]);
    expect({ code: wrong.exitCode, err: wrong.stderr.trim() }).toEqual({ code: 1, err: `topo: error: the lab file ${withoutC} is of lab spread, not ring (drop --attach (the lab file names the lab), or give the matching lab file)` });
  });

  it('topo down --lab-file stops every runner\'s node (their QEMUs are gone)', async () => {
    const pids = (await spread.status()).nodes.flatMap((n) => (n.pid ? [n.pid] : []));
    expect(pids).toHaveLength(2);
    const r = await topo(['down', '--lab-file', withoutC]);
    expect({ code: r.exitCode, out: r.stdout, err: r.stderr }).toEqual({ code: 0, out: 'spread: stopped', err: '' });
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(pids.map(alive)).toEqual([false, false]);
  });
});
