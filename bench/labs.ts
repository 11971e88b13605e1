// Lab-level measurements for bench/run.ts: overhead against a plain script, the scale curve, teardown, guest-to-guest TCP.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { ensureGuest, renderGuestConfig } from '../src/guest/index.js';
import { hostTscKhz } from '../src/qemu/accel.js';
import { planNode } from '../src/qemu/plan.js';
import { up } from '../src/runtime/lab.js';
import { loadTopology } from '../src/topology/index.js';
import type { ResolvedTopology } from '../src/topology/model.js';

export const tmp = await mkdtemp(path.join(os.tmpdir(), 'topo-bench-'));
const CLK_TCK = 100;
const topoBin = path.join(import.meta.dirname, '..', 'bin', 'topo.js');

export async function cleanup(): Promise<void> {
  await rm(tmp, { recursive: true, force: true });
}

/** n default-guest nodes (192M, no host network) in a ring, or standalone when `links` is false. */
export async function labFile(n: number, links = true, name = `bench${n}`): Promise<string> {
  const nodes = Array.from({ length: n }, (_, i) => `  n${i + 1}: { memory: 192M, host_network: false }`).join('\n');
  const ring = !links || n < 2 ? '' : `links:\n${Array.from({ length: n === 2 ? 1 : n }, (_, i) => `  - endpoints: [n${i + 1}, n${((i + 1) % n) + 1}]`).join('\n')}\n`;
  const file = path.join(tmp, `${name}.yaml`);
  await writeFile(file, `name: ${name}\nnodes:\n${nodes}\n${ring}`);
  return file;
}

async function load(file: string): Promise<ResolvedTopology> {
  const loaded = await loadTopology(file);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.diagnostics));
  return loaded.topology;
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm) ": state is [0], utime [11], stime [12].
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

function rssMiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

export interface ScalePoint {
  nodes: number;
  readyS: number;
  cpuPerBootS: number;
  qemuRssMiB: number;
}

/** up() in this process: wall time to all ready, the QEMUs' CPU time at their ready, their memory. */
export async function scalePoint(n: number, jobs?: number): Promise<ScalePoint> {
  const topology = await load(await labFile(n));
  const cpu = new Map<string, number>();
  const pids = new Map<string, number>();
  const t0 = performance.now();
  const lab = await up(topology, {
    accel: 'tcg',
    runDirBase: path.join(tmp, 'run'),
    control: false,
    jobs,
    onEvent: (e) => {
      if (e.type === 'node' && e.state === 'booting' && e.pid) pids.set(e.node, e.pid);
      if (e.type === 'node' && e.state === 'ready') cpu.set(e.node, cpuSeconds(pids.get(e.node)!));
    },
  });
  const readyS = (performance.now() - t0) / 1000;
  const qemuRssMiB = [...pids.values()].reduce((a, p) => a + rssMiB(p), 0);
  const point: ScalePoint = { nodes: n, readyS, cpuPerBootS: [...cpu.values()].reduce((a, b) => a + b, 0) / n, qemuRssMiB };
  await lab.down({ force: true });
  return point;
}

/** The plain alternative: a bash script starting the same QEMU command lines (fd channels as files/null) and polling for the ready line. */
export async function plainScript(n: number): Promise<number> {
  const topology = await load(await labFile(n, false, `plain${n}`));
  const guest = await ensureGuest();
  const tscKhz = await hostTscKhz();
  const lines = ['#!/bin/bash', 'set -u', `cd ${JSON.stringify(tmp)}`];
  for (const node of topology.nodes) {
    const cfg = path.join(tmp, `plain-${node.name}.config`);
    await writeFile(cfg, renderGuestConfig(node));
    const plan = planNode(topology, node, { accel: 'tcg', kernel: guest.kernel, initrd: guest.initrd, defaultGuest: true, tscKhz, guestConfigFile: cfg, hostForwards: [] });
    const log = path.join(tmp, `plain-${node.name}.log`);
    const argv = plan.argv.map((a) => a.replace(/^socket,id=con,fd=\d+$/, `file,id=con,path=${log}`).replace(/^socket,id=(qmp|agent),fd=\d+$/, 'null,id=$1'));
    lines.push(`: > ${log}`, `${plan.binary} ${argv.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ')} >/dev/null 2>&1 &`);
  }
  const logs = topology.nodes.map((nd) => path.join(tmp, `plain-${nd.name}.log`)).join(' ');
  lines.push(`until [ "$(grep -l 'topo-guest: ready' ${logs} 2>/dev/null | wc -l)" -eq ${n} ]; do sleep 0.05; done`, 'kill -9 $(jobs -p)', 'wait');
  const script = path.join(tmp, `plain${n}.sh`);
  await writeFile(script, `${lines.join('\n')}\n`, { mode: 0o755 });
  const t0 = performance.now();
  await execa('bash', [script]);
  return (performance.now() - t0) / 1000;
}

/** The topo CLI as a real process: `topo up --detach` until it returns (every node ready), then `topo down`. */
export async function cliUp(n: number): Promise<number> {
  const file = await labFile(n, false, `cli${n}`);
  const env = { TOPO_RUN_DIR: path.join(tmp, 'run'), CI: '1' };
  const t0 = performance.now();
  await execa(process.execPath, [topoBin, 'up', '--detach', file, '--accel', 'tcg'], { env });
  const s = (performance.now() - t0) / 1000;
  await execa(process.execPath, [topoBin, 'down', `cli${n}`], { env });
  return s;
}

/** The real runner: `topo up --detach` of an n-node ring, then its supervisor's RSS and CPU while the lab idles. */
export async function runnerIdle(n: number, idleMs = 10_000): Promise<{ cpuPct: number; rssMiB: number }> {
  const file = await labFile(n, true, `idle${n}`);
  const env = { TOPO_RUN_DIR: path.join(tmp, 'run'), CI: '1' };
  await execa(process.execPath, [topoBin, 'up', '--detach', file, '--accel', 'tcg'], { env });
  try {
    const ps = JSON.parse((await execa(process.execPath, [topoBin, 'ps', `idle${n}`, '--json'], { env })).stdout) as { pid: number } | { pid: number }[];
    const pid = (Array.isArray(ps) ? ps[0]! : ps).pid;
    // Let the boot's last events settle, then measure.
    await new Promise((r) => setTimeout(r, 2000));
    const c0 = cpuSeconds(pid);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, idleMs));
    const cpuPct = ((cpuSeconds(pid) - c0) / ((performance.now() - t0) / 1000)) * 100;
    return { cpuPct, rssMiB: rssMiB(pid) };
  } finally {
    await execa(process.execPath, [topoBin, 'down', `idle${n}`], { env });
  }
}

/** Ctrl-C (SIGINT to the process group) of a foreground `topo up` until its last QEMU is gone. */
export async function teardown(n: number): Promise<number> {
  const file = await labFile(n, true, `down${n}`);
  const child = spawn(process.execPath, [topoBin, 'up', file, '--json', '--accel', 'tcg'], { env: { ...process.env, TOPO_RUN_DIR: path.join(tmp, 'run'), CI: '1' }, detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  const pids: number[] = [];
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (b: Buffer) => {
      buf += b.toString();
      for (const m of buf.matchAll(/"state":"booting","at":\d+,"pid":(\d+)/g)) if (!pids.includes(Number(m[1]))) pids.push(Number(m[1]));
      if (buf.includes(`"detail":"all ${n} nodes ready"`)) resolve();
    });
    child.once('exit', () => reject(new Error('topo up exited early')));
  });
  const t0 = performance.now();
  process.kill(-child.pid!, 'SIGINT');
  while (pids.some((p) => { try { process.kill(p, 0); return true; } catch { return false; } })) await new Promise((r) => setTimeout(r, 10));
  const s = (performance.now() - t0) / 1000;
  await new Promise((r) => child.once('exit', r));
  return s;
}

/** TCP from a to b over a direct link and over a forwarded one, in one lab; MB/s each. */
export async function guestThroughput(mib = 32): Promise<{ directMBs: number; forwardedMBs: number }> {
  const file = path.join(tmp, 'tput.yaml');
  await writeFile(file, 'name: tput\ndefaults: { memory: 256M, host_network: false }\nnodes:\n  a: {}\n  b: {}\nlinks:\n' +
    '  - endpoints: [a:eth0, b:eth0]\n    addresses: [10.0.1.1/24, 10.0.1.2/24]\n' +
    '  - endpoints: [a:eth1, b:eth1]\n    addresses: [10.0.2.1/24, 10.0.2.2/24]\n    forward: true\n');
  const lab = await up(await load(file), { accel: 'tcg', runDirBase: path.join(tmp, 'run'), control: false });
  try {
    const once = async (addr: string, port: number) => {
      await lab.node('b').exec(`(nc -l -p ${port} > /dev/null &) ; sleep 0.3`);
      const t0 = performance.now();
      const r = await lab.node('a').exec(`dd if=/dev/zero bs=64k count=${mib * 16} 2>/dev/null | nc ${addr} ${port}`, { timeout: 300_000 });
      if (r.exitCode !== 0) throw new Error(`nc failed: ${r.stderr.toString()}`);
      return mib / ((performance.now() - t0) / 1000);
    };
    const direct: number[] = [];
    const forwarded: number[] = [];
    // Interleaved, so neither side always runs on a warmer machine.
    for (let i = 0; i < 3; i++) {
      direct.push(await once('10.0.1.2', 5001 + i));
      forwarded.push(await once('10.0.2.2', 6001 + i));
    }
    return { directMBs: median(direct), forwardedMBs: median(forwarded) };
  } finally {
    await lab.down({ force: true });
  }
}
