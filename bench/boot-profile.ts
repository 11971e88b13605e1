// Where a default-guest boot spends its time under TCG: the console with host timestamps, kernel
// timestamps (printk.time) and init's own trace points. Usage: node --import tsx bench/boot-profile.ts [--append "args"] [--initcalls]
import { ensureGuest, READY_LINE } from '../src/guest/index.js';
import { bootGuest } from '../test/helpers/boot-guest.js';

const arg = (n: string) => (process.argv.includes(n) ? process.argv[process.argv.indexOf(n) + 1] : undefined);
const initcalls = process.argv.includes('--initcalls');
const guest = await ensureGuest();
// Initcall lines go to the kernel log only (printing them on the emulated UART would cost more than they measure).
const extra = ['topo.trace', 'printk.time=1', initcalls ? 'initcall_debug' : 'loglevel=7', arg('--append') ?? ''].join(' ');
const t0 = performance.now();
const vm = await bootGuest(guest, { hostMac: '52:54:00:12:34:56', appendExtra: extra });
try {
  await vm.waitForConsole(READY_LINE, 300_000);
  const total = (performance.now() - t0) / 1000;
  const lines = initcalls ? (await vm.agent.exec('dmesg')).stdout.toString().split('\n') : vm.console().split(/\r?\n/);
  if (initcalls) {
    // "initcall X returned 0 after N usecs": the slowest ones.
    const calls = lines.flatMap((l) => { const m = /initcall (\S+) returned \S+ after (\d+) usecs/.exec(l); return m ? [[m[1]!, Number(m[2])] as const] : []; });
    calls.sort((a, b) => b[1] - a[1]);
    for (const [f, us] of calls.slice(0, 30)) console.log(`${(us / 1000).toFixed(1).padStart(8)} ms  ${f}`);
    console.log(`initcalls total ${(calls.reduce((a, c) => a + c[1], 0) / 1000).toFixed(0)} ms in ${calls.length}`);
  } else {
    for (const l of lines) if (l.trim()) console.log(l);
  }
  console.log(`ready after ${total.toFixed(3)} s (host wall clock from spawn)`);
} finally {
  await vm.stop();
}
