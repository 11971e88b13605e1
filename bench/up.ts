// A/B in one run: time to all-ready through `up()` vs. a plain script starting the same QEMU argv in parallel.
// Also the runner's own RSS and CPU while the largest lab idles. Run: npx tsx bench/up.ts [sizes...]
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ensureGuest, READY_LINE, renderGuestConfig } from '../src/guest/index.js';
import { hostTscKhz } from '../src/qemu/accel.js';
import { planNode } from '../src/qemu/plan.js';
import { closeFd, socketPair } from '../src/runtime/fds.js';
import { up } from '../src/runtime/lab.js';
import { loadTopology } from '../src/topology/index.js';
import type { ResolvedTopology } from '../src/topology/model.js';

const sizes = process.argv.slice(2).map(Number).filter(Boolean);
const SIZES = sizes.length ? sizes : [1, 4, 16];
const tmp = await mkdtemp(path.join(os.tmpdir(), 'topo-bench-'));

async function ringTopology(n: number): Promise<ResolvedTopology> {
  const nodes = Array.from({ length: n }, (_, i) => `  n${i + 1}: { memory: 192M, host_network: false }`).join('\n');
  const links = n < 2 ? '' : `links:\n${Array.from({ length: n === 2 ? 1 : n }, (_, i) => `  - endpoints: [n${i + 1}, n${((i + 1) % n) + 1}]`).join('\n')}\n`;
  const file = path.join(tmp, `ring${n}.yaml`);
  await writeFile(file, `name: bench${n}\nnodes:\n${nodes}\n${links}`);
  const loaded = await loadTopology(file);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.diagnostics));
  return loaded.topology;
}

/** The plain alternative: same argv, spawned directly, each console read until the ready line. */
async function plain(topology: ResolvedTopology): Promise<number> {
  const guest = await ensureGuest();
  const tscKhz = await hostTscKhz();
  const linkFds = new Map<string, number[]>();
  for (const l of topology.links) linkFds.set(l.id, socketPair());
  const t0 = performance.now();
  const children = topology.nodes.map(async (node) => {
    const cfg = path.join(tmp, `${topology.name}-${node.name}.config`);
    await writeFile(cfg, renderGuestConfig(node));
    const plan = planNode(topology, node, { accel: 'tcg', kernel: guest.kernel, initrd: guest.initrd, defaultGuest: true, tscKhz, guestConfigFile: cfg, hostForwards: [] });
    let consoleEnd = -1;
    const fds = plan.fdSlots.map((slot) => {
      if (slot.kind === 'link') {
        const l = topology.links.find((x) => x.id === slot.link)!;
        return linkFds.get(slot.link)![l.endpoints.findIndex((e) => e.node === node.name && e.iface === slot.iface)]!;
      }
      const [mine, theirs] = socketPair();
      if (slot.kind === 'console') consoleEnd = mine;
      return theirs;
    });
    const child = spawn(plan.binary, [...plan.argv], { stdio: ['ignore', 'ignore', 'ignore', ...fds] });
    const sock = new net.Socket({ fd: consoleEnd, readable: true, writable: true });
    let seen = '';
    await new Promise<void>((resolve) => sock.on('data', (d) => ((seen += d.toString()), seen.includes(READY_LINE) && resolve())));
    return { child, sock };
  });
  const running = await Promise.all(children);
  const ms = performance.now() - t0;
  for (const { child, sock } of running) {
    child.kill('SIGKILL');
    sock.destroy();
  }
  for (const fds of linkFds.values()) fds.forEach(closeFd);
  return ms;
}

async function viaTopo(topology: ResolvedTopology, idle: boolean): Promise<{ ms: number; rssMiB?: number; cpuPct?: number }> {
  const t0 = performance.now();
  const lab = await up(topology, { accel: 'tcg', runDirBase: tmp });
  const ms = performance.now() - t0;
  let rssMiB: number | undefined;
  let cpuPct: number | undefined;
  if (idle) {
    const before = process.cpuUsage();
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, 10_000));
    const used = process.cpuUsage(before);
    cpuPct = ((used.user + used.system) / 1000 / (performance.now() - w0)) * 100;
    rssMiB = process.memoryUsage().rss / 2 ** 20;
  }
  await lab.down({ force: true });
  return { ms, rssMiB, cpuPct };
}

await ensureGuest();
console.log('nodes | plain script | topo up | ratio');
for (const n of SIZES) {
  const topology = await ringTopology(n);
  const runs = n >= 16 ? 1 : 3;
  const a: number[] = [];
  const b: number[] = [];
  let idle: { rssMiB?: number; cpuPct?: number } = {};
  for (let i = 0; i < runs; i++) {
    // Alternate the order so neither side always runs on a warmer machine.
    if (i % 2 === 0) a.push(await plain(topology));
    const r = await viaTopo(topology, n === Math.max(...SIZES) && i === runs - 1);
    b.push(r.ms);
    if (r.rssMiB) idle = r;
    if (i % 2 === 1) a.push(await plain(topology));
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  console.log(`${n} | ${(med(a) / 1000).toFixed(2)} s | ${(med(b) / 1000).toFixed(2)} s | ${(med(b) / med(a)).toFixed(3)}`);
  if (idle.rssMiB) console.log(`runner idle with ${n} nodes: RSS ${idle.rssMiB.toFixed(0)} MiB, CPU ${idle.cpuPct!.toFixed(2)}% of a core`);
}
await rm(tmp, { recursive: true, force: true });
