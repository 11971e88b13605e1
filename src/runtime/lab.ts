// The engine behind `topo up` and the library API: prepare resources in stages, run the supervisor, tear down.
import { EventEmitter } from 'node:events';
import path from 'node:path';
import os from 'node:os';
import { TopoError } from '../errors.js';
import { ensureGuest, READY_LINE, renderGuestConfig, type ExecResult } from '../guest/index.js';
import { chooseAccel, hostTscKhz, probeAccel, type AccelRequest } from '../qemu/accel.js';
import { planNode, type Accel, type HostForward, type NodePlan } from '../qemu/plan.js';
import type { ResolvedNode, ResolvedTopology } from '../topology/model.js';
import type { SupervisorEvent } from './events.js';

export type { ExecResult };
import { LinkFabric } from './links.js';
import { allocateHostPorts } from './ports.js';
import { preflight, qemuBinary } from './preflight.js';
import { acquireRunDir, runBase, type RunDir } from './rundir.js';
import { Supervisor } from './supervisor.js';
import { prepareUefi } from './uefi.js';
import { CAPTURE_POLICY, secureDir } from './safe-fs.js';

export interface UpOptions {
  accel?: AccelRequest;
  /** Nodes booting at once; default scales with cores. */
  jobs?: number;
  runDirBase?: string;
  /** Keep the run directory (console logs, captures) after teardown. */
  keep?: boolean;
  onEvent?: (event: SupervisorEvent) => void;
  /** Where pcaps of links with capture: true go (kept after teardown); default ./captures/<lab>. */
  captureDir?: string;
  /** Aborting stops a lab that is still booting; up() then rejects with E_ABORTED. */
  signal?: AbortSignal;
}


export function defaultJobs(): number {
  return Math.max(4, os.availableParallelism() * 4);
}

export function defaultReadyTimeoutMs(accel: Accel): number {
  return accel === 'tcg' ? 120_000 : 60_000;
}

export class Lab extends EventEmitter<{ event: [SupervisorEvent] }> {
  private downing?: Promise<void>;

  constructor(
    readonly topology: ResolvedTopology,
    readonly accel: Accel,
    readonly runDir: RunDir,
    readonly forwards: ReadonlyMap<string, readonly HostForward[]>,
    readonly captureDir: string,
    readonly supervisor: Supervisor,
    private readonly fabric: LinkFabric,
    private readonly keep: boolean,
  ) {
    super();
  }

  /** Resolves with the first unrecoverable node failure after the lab was ready. */
  get failure(): Promise<TopoError> {
    return this.supervisor.failure;
  }

  async exec(node: string, command: string, opts: { timeoutMs?: number } = {}): Promise<ExecResult> {
    const agent = this.supervisor.procs.get(node)?.agent;
    if (!agent) throw new TopoError(`node "${node}" has no agent (not running, or not the default guest)`, { code: 'E_NO_AGENT', node });
    return agent.exec(command, opts);
  }

  /** Tear down once; calling again (e.g. a second Ctrl-C with force) escalates to SIGKILL. */
  down(opts: { force?: boolean } = {}): Promise<void> {
    if (this.downing) {
      if (opts.force) void this.supervisor.stopAll(true);
      return this.downing;
    }
    this.downing = (async () => {
      this.emit('event', { type: 'lab', state: 'stopping', at: this.supervisor.elapsed() });
      await this.supervisor.stopAll(opts.force);
      await this.fabric.close();
      await this.runDir.release();
      this.emit('event', { type: 'lab', state: 'stopped', at: this.supervisor.elapsed(), detail: this.keep ? `kept ${this.runDir.path}` : undefined });
    })();
    return this.downing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.down();
  }
}

/** Bring a topology up: resolves once every node is ready; on failure nothing is left behind. */
export async function up(topology: ResolvedTopology, opts: UpOptions = {}): Promise<Lab> {
  const emit = (e: SupervisorEvent) => opts.onEvent?.(e);
  emit({ type: 'lab', state: 'preparing', at: 0 });
  await preflight(topology);
  const choice = chooseAccel(opts.accel ?? 'auto', await probeAccel());
  if (choice.notice) emit({ type: 'notice', message: choice.notice });
  const needsGuest = topology.nodes.some((n) => n.kind === 'microvm' && !n.kernel);
  const guest = needsGuest ? await ensureGuest({ signal: opts.signal, onProgress: (message: string) => emit({ type: 'notice', message: `guest: ${message}` }) }) : undefined;
  const tscKhz = choice.accel === 'tcg' ? await hostTscKhz() : undefined;

  const cleanups: (() => Promise<void>)[] = [];
  // The lab references its guest cache entry until torn down, so no prune or rebuild removes it meanwhile.
  if (guest) cleanups.push(() => guest.release());
  try {
    const runDir = await acquireRunDir(topology.name, runBase(opts.runDirBase), { keep: opts.keep });
    if (runDir.notice) emit({ type: 'notice', message: runDir.notice });
    cleanups.push(() => runDir.release());
    const forwards = await allocateHostPorts(topology.nodes);
    const captureDir = path.resolve(opts.captureDir ?? path.join('captures', topology.name));
    if (topology.links.some((l) => l.capture)) await secureDir(captureDir, CAPTURE_POLICY);
    const fabric = new LinkFabric(topology, { captureFile: (link) => path.join(captureDir, `${link.id}.pcap`) });
    cleanups.push(() => fabric.close());

    const plans = new Map<string, NodePlan>();
    const readyPatterns = new Map<string, RegExp[]>();
    for (const node of topology.nodes) {
      const uefi = node.kind === 'uefi';
      const defaultGuest = !uefi && !node.kernel;
      // uefi disks may run topo's guest (topo guest esp): they always get the configuration.
      const configFile = defaultGuest || uefi ? runDir.file(`${node.name}.config`) : undefined;
      if (configFile) await runDir.createFile(`${node.name}.config`, renderGuestConfig(node));
      plans.set(
        node.name,
        planNode(topology, node, {
          accel: choice.accel,
          binary: qemuBinary(),
          kernel: node.kernel ?? guest?.kernel,
          initrd: node.kernel ? node.initrd : guest?.initrd,
          defaultGuest,
          tscKhz,
          guestConfigFile: configFile,
          hostForwards: forwards.get(node.name) ?? [],
          ...(uefi ? await prepareUefi(node, runDir) : {}),
        }),
      );
      readyPatterns.set(node.name, readyFor(node, defaultGuest));
    }
    const supervisor = new Supervisor({
      topology,
      plans,
      readyPatterns,
      readyTimeoutMs: (node: ResolvedNode) => node.ready.timeoutMs ?? defaultReadyTimeoutMs(choice.accel),
      // An arbitrary disk may print nothing we know: without ready.console a uefi node is ready once QEMU runs.
      readyOnQmp: (node: ResolvedNode) => node.kind === 'uefi' && !node.ready.console,
      tpmStateDir: (node: ResolvedNode) => (node.tpm ? runDir.file(`${node.name}.tpm`) : undefined),
      fabric,
      runDir,
      jobs: opts.jobs ?? defaultJobs(),
    });
    const lab = new Lab(topology, choice.accel, runDir, forwards, captureDir, supervisor, fabric, opts.keep ?? false);
    // Everything (supervisor and teardown events) reaches onEvent through the lab.
    supervisor.on('event', (e) => lab.emit('event', e));
    lab.on('event', emit);
    lab.on('event', (e) => void (e.type === 'lab' && e.state === 'stopped' && guest?.release()));
    cleanups.unshift(() => supervisor.stopAll(true));
    const onAbort = () => void supervisor.stopAll();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      abortCheck(opts.signal);
      await supervisor.start();
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
    return lab;
  } catch (err) {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
    if (opts.signal?.aborted) throw new TopoError('stopped before the lab was ready', { code: 'E_ABORTED', cause: err });
    throw err;
  }
}

function abortCheck(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new TopoError('stopped before the lab was ready', { code: 'E_ABORTED' });
}

function readyFor(node: ResolvedNode, defaultGuest: boolean): RegExp[] {
  const patterns: RegExp[] = [];
  if (defaultGuest) patterns.push(new RegExp(READY_LINE.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  if (node.ready.console) patterns.push(new RegExp(node.ready.console));
  return patterns;
}
