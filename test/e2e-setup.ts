// vitest globalSetup for the e2e project: builds (or verifies) the default guest once, before any
// e2e file boots QEMU. The cache is the user's stable one (TOPO_CACHE_DIR, else ~/.cache/topo), so
// it is reused across runs; tests then get it from ensureGuest() in a few milliseconds.
import { ensureGuest } from '../src/guest/index.js';

export default async function setup(): Promise<void> {
  const started = Date.now();
  const guest = await ensureGuest({ onProgress: (m) => process.stderr.write(`[e2e-setup] default guest: ${m}\n`) });
  if (!guest.cached) {
    process.stderr.write(`[e2e-setup] default guest built in ${((Date.now() - started) / 1000).toFixed(1)} s: ${guest.dir}\n`);
  }
}
