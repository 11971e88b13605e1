// Boots one default-guest VM through the real plan builder and NodeProcess, with links wired by the test.
// Lower level than up(): the guest tests choose MACs, NIC order and raw configs that a topology can't express.
// The helper owns the serial console (to type into it) and can add virtio-serial channels to the plan.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentClient, type GuestArtifacts } from '../../src/guest/index.js';
import { hostTscKhz } from '../../src/qemu/accel.js';
import { qemuOpts } from '../../src/qemu/escape.js';
import { planNode, type FdSlot, type NodePlan } from '../../src/qemu/plan.js';
import type { QmpClient } from '../../src/qemu/qmp.js';
import { closeFd, socketFromFd, socketPair } from '../../src/host/fds.js';
import { ConsoleHub } from '../../src/machine/console.js';
import { NodeProcess } from '../../src/machine/node-process.js';
import { LineFramer } from '../../src/host/lines.js';
import type { ResolvedInterface } from '../../src/topology/model.js';
import { iface, node, topology } from './model.js';

export { socketPair as socketpair } from '../../src/host/fds.js';

export interface BootOptions {
  /** fw_cfg configuration; omitted = boot with no configuration at all. */
  config?: Buffer;
  /** MAC of a user-mode (SLIRP) NIC, created first. */
  hostMac?: string;
  /** One end of a link socketpair per NIC (ownership passes to bootGuest: closed after spawn). */
  links?: { fd: number; mac: string }[];
  /** Extra NICs without a peer (e.g. to reach 64 interfaces; the plan moves NICs to PCIe past microvm's limit). */
  extraNics?: string[];
  memoryMiB?: number;
  appendExtra?: string;
  /** Extra virtio-serial ports: the guest end of a socketpair each (ownership passes to bootGuest). */
  channels?: { name: string; fd: number }[];
  /** Rewrites QEMU's argv last (e.g. a NIC on `-netdev stream` instead of an inherited socket). */
  mapArgv?: (argv: readonly string[]) => string[];
}

export interface BootedGuest {
  readonly agent: AgentClient;
  /** Everything the console printed so far. */
  console(): string;
  waitForConsole(pattern: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Types into the serial console. */
  writeConsole(data: string): void;
  readonly qmp: QmpClient;
  stop(): Promise<void>;
  readonly argv: readonly string[];
}

export async function bootGuest(guest: GuestArtifacts, opts: BootOptions = {}): Promise<BootedGuest> {
  const dir = await mkdtemp(join(tmpdir(), 'topo-guest-test-'));
  const configFile = opts.config ? join(dir, 'config') : undefined;
  if (configFile) await writeFile(configFile, opts.config!);
  const fds = new Map<string, number>();
  const nics: ResolvedInterface[] = [];
  if (opts.hostMac) nics.push(iface('eth0', { kind: 'host', mac: opts.hostMac }));
  const wire = (mac: string, fd: number) => {
    const link = `l${fds.size}`;
    fds.set(link, fd);
    nics.push({ ...iface(`eth${nics.length}`, { mac, link }), index: nics.length });
  };
  for (const l of opts.links ?? []) wire(l.mac, l.fd);
  for (const mac of opts.extraNics ?? []) wire(mac, danglingEnd());
  const vm = node('vm', { memoryMiB: opts.memoryMiB ?? 192, hostNetwork: Boolean(opts.hostMac), interfaces: nics, cmdline: opts.appendExtra });
  const base = planNode(topology([vm]), vm, {
    accel: 'tcg',
    kernel: guest.kernel,
    initrd: guest.initrd,
    defaultGuest: true,
    tscKhz: await hostTscKhz(),
    guestConfigFile: configFile,
    hostForwards: [],
  });
  const [consoleEnd, consoleVm] = socketPair();
  fds.set(CONSOLE, consoleVm);
  const wired = withChannels(takeConsole(base), opts.channels ?? [], fds);
  const plan = opts.mapArgv === undefined ? wired : { ...wired, argv: opts.mapArgv(wired.argv) };

  let text = '';
  const waiters = new Set<() => void>();
  const proc = new NodeProcess({
    plan,
    // The console slot is the test's own (takeConsole): the hub stays empty.
    console: new ConsoleHub(),
    readyPatterns: [],
    readyTimeoutMs: 1,
    linkFd: (slot) => fds.get(slot.link)!,
  });
  const consoleSock = socketFromFd(consoleEnd);
  const addLine = (line: string) => {
    text += `${line.replace(/\r+$/, '')}\n`;
    for (const w of waiters) w();
  };
  // Console lines use \r\n; an overlong one is kept as its head, so a test's console dump still shows it.
  const lines = new LineFramer({ max: 64 * 1024, onLine: (l) => addLine(l.toString('utf8')), onTooLong: (head) => addLine(`${head.toString('utf8')}[...]`) });
  consoleSock.on('error', () => undefined);
  consoleSock.on('data', (chunk: Buffer) => lines.push(chunk));
  await proc.start();
  let exited = false;
  void proc.exited.then(() => {
    exited = true;
    for (const w of waiters) w();
  });

  const waitForConsole = (pattern: string | RegExp, timeoutMs = 120_000) =>
    new Promise<void>((resolve, reject) => {
      const test = () => (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text));
      const finish = (err?: Error) => {
        clearTimeout(timer);
        waiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      const check = () => {
        if (test()) finish();
        else if (exited) finish(new Error(`QEMU exited before ${pattern}\nconsole:\n${text.slice(-3000)}\n${proc.tails().stderrTail}`));
      };
      const timer = setTimeout(() => finish(new Error(`timeout waiting for ${pattern}\nconsole:\n${text.slice(-3000)}`)), timeoutMs);
      waiters.add(check);
      check();
    });

  const stop = async () => {
    void proc.stop('teardown', { force: true });
    await proc.exited;
    consoleSock.destroy();
    await rm(dir, { recursive: true, force: true });
  };
  const writeConsole = (data: string) => void consoleSock.write(data);
  return { agent: proc.agent!, qmp: proc.qmp!, console: () => text, waitForConsole, writeConsole, stop, argv: plan.argv };
}

const CONSOLE = 'console';

/** The console slot becomes a "link" slot, so its socket is ours and not NodeProcess's (the same fd number in argv). */
function takeConsole(plan: NodePlan): NodePlan {
  const fdSlots = plan.fdSlots.map((s): FdSlot => (s.kind === 'console' ? { kind: 'link', iface: CONSOLE, link: CONSOLE } : s));
  return { ...plan, fdSlots };
}

/** One more virtserialport per channel on the guest's virtio-serial bus, each on an inherited socket. */
function withChannels(plan: NodePlan, channels: { name: string; fd: number }[], fds: Map<string, number>): NodePlan {
  const fdSlots = [...plan.fdSlots];
  const argv = [...plan.argv];
  channels.forEach((ch, i) => {
    const link = `channel:${ch.name}`;
    fds.set(link, ch.fd);
    const fd = fdSlots.push({ kind: 'link', iface: ch.name, link }) + 2;
    argv.push('-chardev', qemuOpts('socket', { id: `ch${i}`, fd }), '-device', qemuOpts('virtserialport', { chardev: `ch${i}`, name: ch.name }));
  });
  return { ...plan, fdSlots, argv };
}

/** A NIC whose cable goes nowhere: the far end is closed at once. */
function danglingEnd(): number {
  const [mine, theirs] = socketPair();
  closeFd(mine);
  return theirs;
}
