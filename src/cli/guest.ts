// `topo guest build`, `topo guest info` and `topo guest esp`: the embedded default guest in the cache.
import { isTopoError } from '../errors.js';
import { buildEsp } from '../guest/esp.js';
import { ensureGuest, guestInfo } from '../guest/index.js';
import { listLayers } from '../guest/layer.js';
import { ownSignals } from '../host/signals.js';
import { errorLines } from '../ui/format.js';

function fail(err: unknown): number {
  if (!isTopoError(err)) throw err;
  for (const line of errorLines(err)) process.stderr.write(`${line}\n`);
  return 1;
}

/** Exit code after Ctrl-C (128 + SIGINT), as shells report it. */
const STOPPED = 130;

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

export async function guestBuildCommand(opts: { force?: boolean }): Promise<number> {
  const abort = new AbortController();
  // Ctrl-C stops the download and removes the half-built entry instead of leaving it to a later sweep.
  const releaseSignals = ownSignals(() => abort.abort());
  try {
    let fellBack = false;
    await using g = await ensureGuest({
      force: opts.force,
      signal: abort.signal,
      onProgress: (m) => process.stderr.write(`topo: ${m}\n`),
      onNotice: (m) => {
        fellBack = true;
        process.stderr.write(`topo: ${m}\n`);
      },
    });
    const what = fellBack ? 'kept the cached default guest' : g.cached ? 'default guest is up to date' : 'built default guest';
    process.stdout.write(
      `${what}: kernel ${g.kernelVersion}, busybox ${g.busyboxVersion}, initramfs ${mib(g.initrdBytes)}\n` +
        `  ${g.dir}\n`,
    );
    return 0;
  } catch (err) {
    if (isTopoError(err) && err.code === 'E_ABORTED') {
      process.stderr.write(`topo: ${err.oneLine()}\n`);
      return STOPPED;
    }
    return fail(err);
  } finally {
    releaseSignals();
  }
}

export async function guestEspCommand(out: string, opts: { force?: boolean }): Promise<number> {
  try {
    const esp = await buildEsp(out, { force: opts.force, onProgress: (m) => process.stderr.write(`topo: ${m}\n`) });
    process.stdout.write(`${esp.cached ? 'wrote' : 'built and wrote'} ${esp.path} (${mib(esp.bytes)}, EFI/BOOT/BOOTX64.EFI = default guest UKI)\n`);
    return 0;
  } catch (err) {
    return fail(err);
  }
}

export async function guestInfoCommand(opts: { json?: boolean }): Promise<number> {
  try {
    const info = await guestInfo();
    const layers = (await listLayers()).map((l) => ({ dir: l.dir, request: l.manifest.request, packages: l.manifest.packages.length, bytes: l.manifest.image.bytes, builtAt: l.manifest.builtAt }));
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ ...info, layers }, null, 2)}\n`);
      return 0;
    }
    const lines = [
      `kernel:  ${info.kernel} (${info.kernelVersion}, package ${info.kernelPackage} ${info.kernelPackageVersion})`,
      `initrd:  ${info.initrd}${info.initrdBytes === null ? '' : ` (${mib(info.initrdBytes)})`}`,
      `busybox: ${info.busyboxVersion}`,
      `recipe:  ${info.recipe}`,
      info.cached ? 'status:  built' : 'status:  not built yet (run: topo guest build)',
      // packages: layers, one per resolved set (src/guest/layer.ts).
      ...layers.map((l) => `layer:   ${l.request.join(' ')} (${l.packages} packages, ${mib(l.bytes)}, built ${l.builtAt.slice(0, 10)}) ${l.dir}`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } catch (err) {
    return fail(err);
  }
}
