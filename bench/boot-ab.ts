// What each boot cut buys: the default guest's QEMU argv as planned today against the same argv with one cut
// undone, interleaved rounds, wall time and QEMU CPU time to the ready line. Console on a pipe, nothing else.
// Usage: node --import tsx bench/boot-ab.ts [ROUNDS]   (prints JSON lines: {variant, wallS, cpuS})
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ensureGuest } from '../src/guest/index.js';
import { hostTscKhz } from '../src/qemu/accel.js';
import { planNode } from '../src/qemu/plan.js';
import { node, topology } from '../test/helpers/model.js';

const CLK_TCK = 100;
const rounds = Number(process.argv[2] ?? 5);
const guest = await ensureGuest();
const vm = node('vm');
const plan = planNode(topology([vm]), vm, { accel: 'tcg', kernel: guest.kernel, initrd: guest.initrd, defaultGuest: true, tscKhz: await hostTscKhz(), hostForwards: [] });
// The channels become a console on stdout and nothing for QMP and the agent: the cost measured is the guest's.
const argv = plan.argv.map((a) => a.replace(/^socket,id=con,fd=\d+$/, 'stdio,id=con').replace(/^socket,id=(qmp|agent),fd=\d+$/, 'null,id=$1'));

const withCpu = (cpu: string) => (a: string[]) => a.map((x, i) => (a[i - 1] === '-cpu' ? cpu : x));
const withoutArgs = (...drop: string[]) => (a: string[]) => a.map((x, i) => (a[i - 1] === '-append' ? x.split(' ').filter((w) => !drop.includes(w)).join(' ') : x));
const variants: [string, (a: string[]) => string[]][] = [
  ['today', (a) => a],
  ['-cpu max (was)', withCpu('max')],
  ['without init_on_alloc=0 lsm=capability', withoutArgs('init_on_alloc=0', 'lsm=capability')],
  ['before the cuts', (a) => withoutArgs('init_on_alloc=0', 'lsm=capability')(withCpu('max')(a))],
];

function cpuOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

function boot(args: string[]): Promise<{ wallS: number; cpuS: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(plan.binary, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let tail = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.stdout.on('data', (b: Buffer) => {
      tail = (tail + b.toString('latin1')).slice(-4096);
      if (!tail.includes('topo-guest: ready')) return;
      const wallS = (performance.now() - t0) / 1000;
      const cpuS = cpuOf(child.pid!);
      clearTimeout(timer);
      child.stdout.removeAllListeners('data');
      child.kill('SIGKILL');
      child.once('exit', () => resolve({ wallS, cpuS }));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!tail.includes('topo-guest: ready')) reject(new Error(`QEMU exited (${code}) before ready: ${tail.slice(-300)}`));
    });
  });
}

for (let r = 0; r < rounds; r++) {
  // Alternate the order so no variant always runs on a warmer (or busier) machine.
  for (const [name, f] of r % 2 ? [...variants].reverse() : variants) {
    console.log(JSON.stringify({ variant: name, ...(await boot(f(argv))) }));
  }
}
await guest.release();
