// Boot-to-ready time of the default guest under TCG: 5 sequential boots, median/min/max.
// Usage: node --import tsx bench/guest-boot.ts [--runs N] [--append "extra kernel args"]
import { ensureGuest, READY_LINE } from '../src/guest/index.js';
import { bootGuest } from '../test/helpers/boot-guest.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
}

async function main(): Promise<void> {
  const runs = Number(arg('--runs') ?? 5);
  const appendExtra = arg('--append');
  const guest = await ensureGuest({ onProgress: (m) => process.stderr.write(`${m}\n`) });
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    // Same shape as a real node: SLIRP host interface, agent port, fw_cfg-less boot is the floor.
    const vm = await bootGuest(guest, { hostMac: '52:54:00:12:34:56', appendExtra });
    try {
      await vm.waitForConsole(READY_LINE, 120_000);
      times.push(performance.now() - t0);
    } finally {
      await vm.stop();
    }
    process.stderr.write(`run ${i + 1}: ${(times[i]! / 1000).toFixed(3)} s\n`);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  const s = (ms: number) => `${(ms / 1000).toFixed(3)} s`;
  console.log(`guest boot to "${READY_LINE}" (TCG, ${runs} sequential runs)`);
  console.log(`median ${s(median)}  min ${s(sorted[0]!)}  max ${s(sorted.at(-1)!)}`);
  console.log(`initramfs ${guest.initrdBytes} bytes (${(guest.initrdBytes / 1024).toFixed(0)} KiB), kernel ${guest.kernelVersion}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
