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
import { up } from '../src/control/up.js';
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

export interface LabRun {
  nodes: number;
  /** Process start to the "all N nodes ready" line. */
  readyS: number;
  /** Median of the nodes' QEMU start to ready, as the supervisor measured it. */
  bootS: number;
  /** The QEMUs' CPU time at their ready, per node. */
  cpuPerBootS: number;
  qemuRssMiB: number;
  /** The runner (this `topo up` process) while the ready lab idles, when asked for. */
  idle?: { cpuPct: number; rssMiB: number };
  /** Ctrl-C to the last QEMU gone. */
  teardownS: number;
}

/**
 * One foreground `topo up --json` of an n-node ring, a real process as a user starts it: time to all ready, the
 * QEMUs' CPU time and memory at ready, optionally the runner's cost while the lab idles, then Ctrl-C (SIGINT to the
 * process group, as a terminal sends it) until the last QEMU is gone.
 */
export async function cliLab(n: number, opts: { jobs?: number; idleMs?: number } = {}): Promise<LabRun> {
  const file = await labFile(n);
  const args = [topoBin, 'up', file, '--json', '--accel', 'tcg', ...(opts.jobs ? ['--jobs', String(opts.jobs)] : [])];
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { env: { ...process.env, TOPO_RUN_DIR: path.join(tmp, 'run'), CI: '1' }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const pids = new Map<string, number>();
  const cpu: number[] = [];
  const boot: number[] = [];
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const readyS = await new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (b: Buffer) => {
      buf += b.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) {
        const e = JSON.parse(line) as { type: string; node?: string; state?: string; pid?: number; readyMs?: number };
        if (e.type === 'node' && e.state === 'booting' && e.pid) pids.set(e.node!, e.pid);
        if (e.type === 'node' && e.state === 'ready') {
          cpu.push(cpuSeconds(pids.get(e.node!)!));
          boot.push((e.readyMs ?? NaN) / 1000);
        }
        if (e.type === 'lab' && e.state === 'ready') resolve((performance.now() - t0) / 1000);
      }
    });
    child.once('exit', (code) => reject(new Error(`topo up exited early (${code}): ${stderr.trim()}`)));
  });
  const qemuRssMiB = [...pids.values()].reduce((a, p) => a + rssMiB(p), 0);
  let idle: LabRun['idle'];
  if (opts.idleMs) {
    // Let the boot's last events settle, then measure.
    await new Promise((r) => setTimeout(r, 2000));
    const c0 = cpuSeconds(child.pid!);
    const i0 = performance.now();
    await new Promise((r) => setTimeout(r, opts.idleMs));
    idle = { cpuPct: ((cpuSeconds(child.pid!) - c0) / ((performance.now() - i0) / 1000)) * 100, rssMiB: rssMiB(child.pid!) };
  }
  const exited = new Promise((r) => child.once('exit', r));
  const d0 = performance.now();
  process.kill(-child.pid!, 'SIGINT');
  const alive = (p: number) => { try { process.kill(p, 0); return true; } catch { return false; } };
  while ([...pids.values()].some(alive)) await new Promise((r) => setTimeout(r, 10));
  const teardownS = (performance.now() - d0) / 1000;
  await exited;
  return { nodes: n, readyS, bootS: median(boot), cpuPerBootS: cpu.reduce((a, b) => a + b, 0) / n, qemuRssMiB, idle, teardownS };
}

/**
 * The plain alternative: a bash script starting the same QEMU command lines and polling for the ready line. Channels
 * that topo passes as inherited fds become a file (console) or null; each link NIC stays, on a hub port of its own
 * (a cable to nowhere), so the guest probes and configures the same devices.
 */
export async function plainScript(n: number): Promise<number> {
  const topology = await load(await labFile(n, true, `plain${n}`));
  let hub = 0;
  const guest = await ensureGuest();
  const tscKhz = await hostTscKhz();
  const lines = ['#!/bin/bash', 'set -u', `cd ${JSON.stringify(tmp)}`];
  for (const node of topology.nodes) {
    const cfg = path.join(tmp, `plain-${node.name}.config`);
    await writeFile(cfg, renderGuestConfig(node));
    const plan = planNode(topology, node, { accel: 'tcg', kernel: guest.kernel, initrd: guest.initrd, defaultGuest: true, tscKhz, guestConfigFile: cfg, hostForwards: [] });
    const log = path.join(tmp, `plain-${node.name}.log`);
    const argv = plan.argv.map((a, i) =>
      plan.argv[i - 1] === '-netdev'
        ? a.replace(/^socket,id=([^,]+),fd=\d+$/, (_, id: string) => `hubport,id=${id},hubid=${hub++}`)
        : a.replace(/^socket,id=con,fd=\d+$/, `file,id=con,path=${log}`).replace(/^socket,id=(qmp|agent),fd=\d+$/, 'null,id=$1'),
    );
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
