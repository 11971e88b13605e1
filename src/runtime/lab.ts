// The engine behind `topo up` and the library API: prepare resources in stages, run the supervisor (control: src/control/up.ts).
import { createHash, randomBytes } from 'node:crypto';
import { rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { TopoError } from '../errors.js';
import { ensureGuest, renderGuestConfig } from '../guest/index.js';
import { readyLinePattern } from '../guest/console-lines.js';
import { espImage } from '../guest/esp.js';
import { filesArchive } from '../guest/files.js';
import { prepareLayers, type PrepareLayersOptions } from './layers.js';
import { plannedShares, preflightShares, shareTag } from '../machine/virtiofsd.js';
import { chooseAccel, hostTsc, probeAccel, type AccelRequest } from '../qemu/accel.js';
import { planNode, type Accel } from '../qemu/plan.js';
import { compilePattern } from '../topology/pattern.js';
import type { ResolvedNode, ResolvedTopology } from '../topology/model.js';
import type { SupervisorEvent } from '../api/events.js';
import { Journal } from './journal.js';
import { LinkFabric } from '../net/links.js';
import { allocateHostPorts } from '../machine/ports.js';
import { preflight, qemuBinary } from '../machine/preflight.js';
import { Janitor } from '../host/proc-group.js';
import type { LinePattern } from '../machine/readiness.js';
import { acquireRunDir, runBase } from './rundir.js';
import { Lab } from './running-lab.js';
import { Supervisor, type NodeSpec } from './supervisor.js';
import { prepareUefi } from '../machine/uefi.js';
import { CAPTURE_POLICY, secureDir } from '../host/safe-fs.js';
import { keepEarlierCaptures } from './capture-dir.js';
import { ResourceStack } from '../host/resource-stack.js';
import { RemoteEnds, type RemoteOptions } from './remote-ends.js';

export { Lab, DEFAULT_EXEC_TIMEOUT_MS, type ExecResult } from './running-lab.js';

export interface UpOptions {
  accel?: AccelRequest;
  /** Nodes booting at once; default: measured (one per core, more while a core idles: AdaptiveSlots). */
  jobs?: number;
  runDirBase?: string;
  /** Keep the run directory (console logs, captures) after teardown. */
  keep?: boolean;
  onEvent?: (event: SupervisorEvent) => void;
  /** Where pcaps of links with capture: true go (kept after teardown); default ./captures/<lab>. */
  captureDir?: string;
  /** Aborting stops a lab that is still booting; up() then rejects with E_ABORTED. */
  signal?: AbortSignal;
  /** Aborting escalates a stop in progress to SIGKILL (a second Ctrl-C). */
  forceSignal?: AbortSignal;
  /** Serves the lab's control socket once the lab exists (src/control/up.ts passes the control server); closed at teardown. */
  serve?: (lab: Lab) => Promise<{ close(): Promise<void> | void }>;
  /** Forward every link through the runner, so any can be impaired or captured at run time. */
  forwardAll?: boolean;
  /** Link ids forwarded through the runner even when a direct socketpair would do (a scenario impairs them). */
  forwardLinks?: readonly string[];
  /** Overrides the file's `seed`. */
  seed?: number;
  /** Exact package versions by node (a replayed bundle's): see prepareLayers. */
  layerPins?: PrepareLayersOptions['pins'];
  /** One node of a spread lab (`topo node`, src/runtime/node-view.ts): the link ends in other runners. */
  remote?: RemoteOptions;
}

/** The file's seed, else one derived from the lab name: the same file gives the same random choices. */
export function labSeed(topology: ResolvedTopology, override?: number): number {
  return override ?? topology.seed ?? Number.parseInt(createHash('sha256').update(`topo-seed/${topology.name}`).digest('hex').slice(0, 8), 16);
}

export function defaultReadyTimeoutMs(accel: Accel): number {
  return accel === 'tcg' ? 120_000 : 60_000;
}

/** Bring a topology up: resolves once every node is ready; on failure nothing is left behind. */
export async function startLab(topology: ResolvedTopology, opts: UpOptions = {}): Promise<Lab> {
  const emit = (e: SupervisorEvent) => opts.onEvent?.(e);
  emit({ type: 'lab', state: 'preparing', at: 0 });
  // Events exist once the lab does; until then, notices (data-plane trouble, a release that failed) go straight to onEvent.
  let report = emit;
  // Everything acquired below is pushed here once; every exit (a failure, an abort, down, dispose) releases it in reverse.
  const stack = new ResourceStack((e) => report({ type: 'notice', message: `teardown: ${e.name}: ${(e.error as Error)?.message ?? String(e.error)}` }));
  // What only a lab that never got ready undoes (empty pcaps and the capture directory topo created for it).
  let ready = false;
  let lab: Lab | undefined;
  try {
    await preflight(topology);
    await preflightShares(topology);
    const choice = chooseAccel(opts.accel ?? 'auto', await probeAccel());
    if (choice.notice) emit({ type: 'notice', message: choice.notice });
    // The TSC probe reads the kernel log: let it run while the guest cache is checked.
    const tscProbe = choice.accel === 'tcg' ? hostTsc().catch(() => undefined) : Promise.resolve(undefined);
    const needsGuest = topology.nodes.some(usesDefaultGuest);
    const guest = needsGuest
      ? await ensureGuest({ signal: opts.signal, onProgress: (message: string) => emit({ type: 'notice', message: `guest: ${message}` }) })
      : undefined;
    // The lab references its guest cache entry until torn down, so no prune or rebuild removes it meanwhile.
    if (guest) stack.defer('guest', () => guest.release());
    const layers = await prepareLayers(topology, usesDefaultGuest, { signal: opts.signal, pins: opts.layerPins, onProgress: (message: string) => emit({ type: 'notice', message: `guest: ${message}` }) });
    stack.defer('layers', () => layers.release());
    abortCheck(opts.signal);
    const tsc = await tscProbe;
    if (tsc?.source === 'cpuinfo') emit({ type: 'notice', message: `notice: TSC rate taken from /proc/cpuinfo (${tsc.khz} kHz; the kernel's calibrated rate was not readable): guests booting together may stall if the clock is scaled` });
    const tscKhz = tsc?.khz;

    const runDir = await acquireRunDir(topology.name, runBase(opts.runDirBase), { keep: opts.keep });
    if (runDir.notice) emit({ type: 'notice', message: runDir.notice });
    stack.defer('run directory', () => runDir.release());
    const journal = stack.use('journal', new Journal(runDir.openLogFd('events.jsonl')), (j) => j.close());
    // The lab's last event, written just before the journal closes (only when the lab is taken down, not when up fails).
    stack.defer('stopped event', () => lab?.announceStopped());
    const janitor = stack.use('janitor', new Janitor(runDir.file('pgids')), (j) => j.dismiss());
    const forwards = await allocateHostPorts(topology.nodes, (message) => emit({ type: 'notice', message }));
    const captureDir = path.resolve(opts.captureDir ?? path.join('captures', topology.name));
    if (topology.links.some((l) => l.capture)) {
      const created = await missingDirs(captureDir);
      // A lab that never ran leaves no empty ./captures/<lab> behind; pcaps of one that did are kept.
      stack.defer('capture directory', () => (ready ? undefined : removeEmptyDirs(created)));
      await secureDir(captureDir, CAPTURE_POLICY);
      const names = topology.links.filter((l) => l.capture).map((l) => `${l.id}.pcap`);
      const moved = await keepEarlierCaptures(captureDir, names, topology.name);
      if (moved) emit({ type: 'notice', message: moved });
    }
    const seed = labSeed(topology, opts.seed);
    const fabric = new LinkFabric(topology, {
      captureFile: (link) => path.join(captureDir, `${link.id}.pcap`),
      onError: (err) => report({ type: 'notice', message: err.message }),
      forwardAll: opts.forwardAll,
      seed,
      forwardLinks: opts.forwardLinks,
    });
    stack.defer('links', async () => {
      const empty = ready ? [] : fabric.forwarded().filter((f) => f.link.capture && f.forwarder.stats().capture?.frames === 0);
      await fabric.close();
      for (const f of empty) await unlink(path.join(captureDir, `${f.link.id}.pcap`)).catch(() => undefined);
    });
    const remote = opts.remote ? stack.use('remote link ends', new RemoteEnds(topology, fabric, opts.remote), (r) => r.close()) : undefined;
    await remote?.start();

    const nonce = randomBytes(8).toString('hex');
    const specs: NodeSpec[] = [];
    for (const node of topology.nodes) {
      const uefi = node.kind === 'uefi';
      const defaultGuest = usesDefaultGuest(node);
      // uefi disks may run topo's guest (topo guest esp): they always get the configuration.
      const configFile = defaultGuest || uefi ? runDir.file(`${node.name}.config`) : undefined;
      if (configFile) await runDir.createFile(`${node.name}.config`, renderGuestConfig(node, { nonce, channels: node.channels, shareTags: node.shares?.map((_, i) => shareTag(i)) }));
      const archive = defaultGuest ? await filesArchive(node) : undefined;
      if (archive) await runDir.createFile(`${node.name}.files`, archive);
      const plan = planNode(topology, node, {
          accel: choice.accel,
          binary: qemuBinary(),
          kernel: node.kernel ?? guest?.kernel,
          initrd: node.kernel ? node.initrd : guest?.initrd,
          defaultGuest,
          tscKhz,
          guestConfigFile: configFile,
          layer: layers.byNode.get(node.name)?.image,
          filesArchive: archive ? runDir.file(`${node.name}.files`) : undefined,
          shares: defaultGuest ? plannedShares(node, runDir.path) : undefined,
          hostForwards: forwards.get(node.name) ?? [],
          ...(uefi ? await prepareUefi(node, runDir, async () => (await espImage({ onProgress: (m) => emit({ type: 'notice', message: `guest: ${m}` }) })).cacheFile) : {}),
        });
      specs.push({
        name: node.name,
        plan,
        readyPatterns: readyFor(node, defaultGuest, nonce),
        readyTimeoutMs: node.ready.timeoutMs ?? defaultReadyTimeoutMs(choice.accel),
        // An arbitrary disk may print nothing we know: without ready.console a uefi node is ready once QEMU runs.
        readyOnQmp: uefi && !node.ready.console && !defaultGuest,
        tpmStateDir: node.tpm ? runDir.file(`${node.name}.tpm`) : undefined,
        consoleLogHint: opts.keep ? runDir.file(`${node.name}.log`) : undefined,
        restart: node.restart,
        allowReboot: node.allowReboot,
        dependsOn: node.dependsOn,
      });
    }
    const supervisor = new Supervisor({
      nodes: specs,
      host: { openConsoleLog: (name) => runDir.openLogFd(`${name}.log`), linkFd: (name, iface, link) => fabric.fdFor(name, iface, link) },
      jobs: opts.jobs,
      janitor,
    });
    // Each node's console log is open from here; the QEMUs exist only once start() runs (the 'nodes' entry below).
    stack.defer('console logs', () => supervisor.closeConsoles());
    lab = new Lab({ topology, accel: choice.accel, runDir, forwards, captureDir, supervisor, fabric, keep: opts.keep ?? false, seed, resources: stack, remote, owns: opts.remote?.owns });
    const theLab = lab;
    // Everything (supervisor and teardown events) reaches onEvent and the journal through the lab.
    supervisor.on('event', (e) => theLab.emit('event', e));
    theLab.on('event', (e) => {
      journal.write(e);
      emit(e);
    });
    report = (e) => void theLab.emit('event', e);
    if (opts.serve) {
      const server = await opts.serve(theLab);
      stack.defer('control server', () => server.close());
    }
    // On top of the stack: the QEMUs stop first (gracefully on down, at once on a failure), then the rest goes.
    stack.defer('nodes', () => supervisor.stopAll(theLab.teardownForced));
    const onAbort = () => void supervisor.stopAll();
    const onForce = () => void supervisor.stopAll(true);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    opts.forceSignal?.addEventListener('abort', onForce, { once: true });
    try {
      abortCheck(opts.signal);
      await supervisor.start();
    } catch (err) {
      await supervisor.stopAll(true);
      // Its QEMUs exiting is what the stop looks like from here, not the cause.
      if (theLab.stoppedBy) throw new TopoError(`the lab was stopped by \`${theLab.stoppedBy}\` before it was ready`, { code: 'E_STOPPED', cause: err });
      throw err;
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      opts.forceSignal?.removeEventListener('abort', onForce);
    }
    ready = true;
    return theLab;
  } catch (err) {
    await stack.release();
    if (opts.signal?.aborted) throw new TopoError('stopped before the lab was ready', { code: 'E_ABORTED', cause: err });
    throw err;
  }
}

/** The directories mkdir -p would create for `dir`, deepest first. */
async function missingDirs(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (let d = dir; !(await stat(d).then(() => true, () => false)); d = path.dirname(d)) out.push(d);
  return out;
}

async function removeEmptyDirs(dirs: readonly string[]): Promise<void> {
  for (const d of dirs) await rmdir(d).catch(() => undefined);
}

function abortCheck(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new TopoError('stopped before the lab was ready', { code: 'E_ABORTED' });
}

/** microvm without a kernel, uefi without a disk (booted from the default guest's ESP). */
export function usesDefaultGuest(node: ResolvedNode): boolean {
  return node.kind === 'uefi' ? !node.disk : !node.kernel;
}

function readyFor(node: ResolvedNode, defaultGuest: boolean, nonce: string): LinePattern[] {
  const patterns: LinePattern[] = [];
  if (defaultGuest) patterns.push(readyLinePattern(nonce));
  if (node.ready.console) patterns.push(compilePattern(node.ready.console));
  return patterns;
}
