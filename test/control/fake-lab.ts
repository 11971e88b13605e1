// A two-node lab of fake QEMUs whose nodes run the real guest agent (busybox), for control-plane tests without a VM:
// a (with channel `data`) and b, linked a:eth1 <-> b:eth1 through the runner (forwarded, so impair and capture work).
// The default guest is built with fake apt tools into a private cache; the fake QEMU logs what it receives to `log`.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import { attachTcp, connect, type RemoteLab } from '../../src/control/remote-lab.js';
import { serveLabTcp } from '../../src/control/server-tcp.js';
import type { ControlServer } from '../../src/control/server.js';
import { servedLab } from '../../src/control/up.js';
import { up, type Lab } from '../../src/index.js';
import type { LabHandle } from '../../src/api/handles.js';
import { fakeAptBin } from '../helpers/fake-apt.js';
import { makeBusyboxBin } from '../fixtures/busybox-agent.mjs';

export const FAKE_QEMU = fileURLToPath(new URL('../fixtures/fake-qemu.mjs', import.meta.url));

export interface FakeLab {
  lab: Lab;
  name: string;
  /** Parent of the run directories (`--run-dir`). */
  base: string;
  /** The fake QEMUs' log: "<node> qmp set_link {...}" and the like. */
  log: string;
  /** The process environment the lab was started in (a CLI child needs it to find the guest cache). */
  env: Record<string, string>;
  readLog(): Promise<string>;
  stop(): Promise<void>;
}

/** `nodes` (YAML of the nodes: and links: sections) replaces the default a, b and their link. */
export async function startFakeLab(name: string, nodes?: string): Promise<FakeLab> {
  const base = await mkdtemp(join(tmpdir(), `topo-${name}-`));
  const saved = { ...process.env };
  const log = join(base, 'fake.log');
  const env = {
    PATH: `${await fakeAptBin(join(base, 'apt'))}:${saved.PATH}`,
    TOPO_CACHE_DIR: join(base, 'cache'),
    TOPO_QEMU: FAKE_QEMU,
    FAKE_QEMU_LOG: log,
    FAKE_QEMU_BUSYBOX_BIN: makeBusyboxBin(join(base, 'busybox')),
  };
  Object.assign(process.env, env);
  const file = join(base, `${name}.yaml`);
  await writeFile(
    file,
    `name: ${name}\ndefaults: { host_network: false }\n${nodes ?? 'nodes:\n  a: { channels: [data] }\n  b: {}\nlinks:\n  - endpoints: [a:eth1, b:eth1]\n    forward: true\n'}`,
  );
  const restore = () => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  };
  let lab: Lab;
  try {
    lab = await up(file, { accel: 'tcg', runDirBase: base, captureDir: join(base, 'captures') });
  } catch (err) {
    restore();
    await rm(base, { recursive: true, force: true });
    throw err;
  }
  return {
    lab,
    name,
    base,
    log,
    env,
    readLog: () => readFile(log, 'utf8').catch(() => ''),
    async stop() {
      await lab.down({ force: true });
      restore();
      await rm(base, { recursive: true, force: true });
    },
  };
}

/** Poll `check` until it returns a value other than undefined (no timing assertion: the test's timeout bounds it). */
export async function until<T>(check: () => T | undefined | Promise<T | undefined>, what: string, tries = 200): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/**
 * One fake lab for a test file (beforeAll/afterAll), reached three ways: the `Lab` from up() in this process, a
 * `RemoteLab` from connect() over its control socket, and one from attachTcp() over an authenticated TCP port (as a
 * runner of a spread lab serves it). A shared specification runs over all with describe.each.
 */
export function labAndRemote(name: string): { fake: () => FakeLab; handles: [string, () => LabHandle][] } {
  let fake: FakeLab | undefined;
  let remote: RemoteLab | undefined;
  let tcp: { server: ControlServer; remote: RemoteLab } | undefined;
  beforeAll(async () => {
    fake = await startFakeLab(name);
    remote = await connect(name, { runDirBase: fake.base });
    const secret = randomBytes(32);
    const server = await serveLabTcp(fake.lab, servedLab(fake.lab), { host: '127.0.0.1', port: 0, secret });
    tcp = { server, remote: await attachTcp({ lab: name, host: '127.0.0.1', port: server.address().port, secret }) };
  });
  afterAll(async () => {
    remote?.close();
    await tcp?.remote.close();
    await tcp?.server.close();
    await fake?.stop();
  });
  return {
    fake: () => fake!,
    handles: [
      ['the Lab of up()', () => fake!.lab],
      ['the RemoteLab of connect()', () => remote!],
      ['the RemoteLab of attachTcp() over TCP', () => tcp!.remote],
    ],
  };
}
