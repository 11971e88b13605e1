// `topo node FILE NODE`: one node of a spread lab (a pod's runner). Its QEMU, console and agent as in `up`, its
// links' ends in other runners over TCP, the control protocol for it, and a health port for probes.
import { readFile } from 'node:fs/promises';
import { isTopoError, TopoError } from '../errors.js';
import { up } from '../control/up.js';
import { secretFromText } from '../control/lab-file.js';
import { serveHealth, type HealthServer, type Readiness } from '../control/health.js';
import { ownSignals } from '../host/signals.js';
import { parseLinkArg } from '../k8s/plan.js';
import { parseAccelRequest } from '../qemu/accel.js';
import type { Lab } from '../runtime/lab.js';
import { nodeView, type NodeView } from '../runtime/node-view.js';
import type { RemoteEndSpec } from '../runtime/remote-ends.js';
import type { ResolvedTopology } from '../topology/model.js';
import { errorLines } from '../ui/format.js';
import { JsonReporter, PlainReporter } from '../ui/plain.js';
import { validTopology } from './validate.js';

export interface NodeFlags {
  resolved?: string;
  secretFile?: string;
  epoch?: number;
  listen?: string;
  controlPort?: number;
  healthPort?: number;
  link?: string[];
  accel?: string;
  runDir?: string;
  keep?: boolean;
  json?: boolean;
}

export async function nodeCommand(file: string, node: string, flags: NodeFlags): Promise<number> {
  const t = await validTopology(file);
  if (typeof t === 'number') return t;
  const pinned = flags.resolved ? await readResolved(flags.resolved, t) : {};
  const epoch = flags.epoch ?? pinned.epoch ?? 0;
  const view = nodeView(t, node);
  const listen = flags.listen ?? '127.0.0.1';
  const ends = remoteEnds(view, flags.link ?? [], listen);
  const needsSecret = ends.some((e) => !e.plain) || flags.controlPort !== undefined;
  const secret = needsSecret ? await readSecret(flags.secretFile) : Buffer.alloc(0);

  const reporter = flags.json ? new JsonReporter({}) : new PlainReporter({});
  let lab: Lab | undefined;
  let stopping = false;
  let wake!: () => void;
  const woken = new Promise<void>((resolve) => (wake = resolve));
  const abort = new AbortController();
  const force = new AbortController();
  const releaseSignals = ownSignals((forced) => {
    stopping = true;
    if (lab) void lab.down({ force: forced });
    else (forced ? force : abort).abort();
    wake();
  });
  let health: HealthServer | undefined;
  try {
    if (flags.healthPort !== undefined) health = await serveHealth(listen, flags.healthPort, () => readiness(view, lab, stopping));
    lab = await up(view.topology, {
      accel: parseAccelRequest(flags.accel),
      runDirBase: flags.runDir,
      keep: flags.keep,
      seed: pinned.seed,
      forwardLinks: view.crossLinks,
      remote: { ends, secret, epoch, owns: view.owns },
      ...(flags.controlPort === undefined ? {} : { tcpControl: { host: listen, port: flags.controlPort, secret } }),
      signal: abort.signal,
      forceSignal: force.signal,
      onEvent: (e) => reporter.handle(e),
    });
    if (stopping) void lab.down();
    reporter.print([`topo node: ${node} of ${t.name} is ready${ends.length ? `; link ends: ${ends.map(describe).join(', ')}` : ''}`]);
    const failure = await Promise.race([lab.failure, woken.then(() => undefined), lab.stopped.then(() => undefined)]);
    if (failure) {
      reporter.print(errorLines(failure), 'stderr');
      await lab.down();
      return 1;
    }
    if (!stopping) {
      // `topo down`: a pod must not restart into a fresh lab, so the runner stays, not ready, until it is stopped.
      reporter.print([`topo node: ${node} was stopped (topo down); waiting for SIGTERM`]);
      await woken;
    }
    await lab.down();
    return 0;
  } catch (err) {
    if (stopping) return 0;
    const error = isTopoError(err) ? err : new TopoError(String(err), { code: 'E_INTERNAL', cause: err });
    reporter.print(errorLines(error), 'stderr');
    return 1;
  } finally {
    await reporter.close();
    await health?.close();
    releaseSignals();
  }
}

function describe(e: RemoteEndSpec): string {
  return `${e.link}@${e.peer.node}:${e.peer.iface} ${e.role === 'listen' ? `listening on ${e.host}:${e.port}` : `dialling ${e.host}:${e.port}`}${e.plain ? ' (hello-less)' : ''}`;
}

function readiness(view: NodeView, lab: Lab | undefined, stopping: boolean): Readiness {
  if (!lab) return { ready: false, waiting: [`node ${view.node} preparing`] };
  const s = lab.snapshot();
  const waiting = [
    ...(stopping || s.state === 'stopping' ? ['the lab is stopping'] : []),
    ...s.nodes.filter((n) => n.state !== 'ready').map((n) => `node ${n.name} ${n.state}`),
    ...s.links.flatMap((l) => (l.remote ?? []).filter((r) => !r.connected).map((r) => `link ${l.id}@${r.peer} waiting for its peer`)),
  ];
  return { ready: waiting.length === 0, waiting };
}

/** Every end of a cross-runner link named exactly once by a --link, and nothing else. */
function remoteEnds(view: NodeView, args: readonly string[], listen: string): RemoteEndSpec[] {
  const expected = new Set(view.topology.links.filter((l) => view.crossLinks.includes(l.id))
    .flatMap((l) => l.endpoints.filter((e) => e.node !== view.node).map((e) => `${l.id}@${e.node}:${e.iface}`)));
  const seen = new Set<string>();
  const ends = args.map((arg): RemoteEndSpec => {
    const a = parseLinkArg(arg);
    if (typeof a === 'string') throw new TopoError(`--link ${arg}: ${a}`, { code: 'E_USAGE' });
    const key = `${a.link}@${a.peer.node}:${a.peer.iface}`;
    if (!expected.has(key)) {
      throw new TopoError(`--link ${arg}: ${view.node} has no link ${a.link} to ${a.peer.node}:${a.peer.iface}`, {
        code: 'E_USAGE', link: a.link, hint: `its ends in other runners: ${[...expected].join(', ') || 'none'}`,
      });
    }
    if (seen.has(key)) throw new TopoError(`--link ${arg}: ${key} is given twice`, { code: 'E_USAGE', link: a.link });
    seen.add(key);
    return { link: a.link, peer: a.peer, role: a.role, host: a.host ?? listen, port: a.port, plain: a.plain };
  });
  const missing = [...expected].filter((k) => !seen.has(k));
  if (missing.length) {
    throw new TopoError(`${view.node}: no --link for ${missing.join(', ')}`, {
      code: 'E_USAGE', hint: 'each link end in another runner needs --link ID@NODE:IFACE=listen:PORT or =dial:HOST:PORT (see `topo k8s render`)',
    });
  }
  return ends;
}

async function readSecret(file: string | undefined): Promise<Buffer> {
  if (!file) throw new TopoError('--secret-file is required: the links and control port prove the lab\'s secret', { code: 'E_USAGE', hint: '`topo k8s render` puts it in the lab\'s Secret' });
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new TopoError(`--secret-file ${file}: ${err.code ?? err.message}`, { code: 'E_USAGE', file });
  });
  const secret = secretFromText(text);
  if (!secret) throw new TopoError(`--secret-file ${file}: not a secret of at least 16 bytes in hex`, { code: 'E_USAGE', file });
  return secret;
}

/** The model `topo k8s render` fixed (seed, epoch); refused when the file resolves to other names or MACs. */
async function readResolved(file: string, t: ResolvedTopology): Promise<{ seed?: number; epoch?: number }> {
  let r: { seed?: unknown; epoch?: unknown; name?: unknown; nodes?: { name: string; interfaces: { name: string; mac: string }[] }[]; links?: { id: string; endpoints: unknown }[] };
  try {
    r = JSON.parse(await readFile(file, 'utf8')) as typeof r;
  } catch (err) {
    throw new TopoError(`--resolved ${file}: ${(err as Error).message}`, { code: 'E_USAGE', file });
  }
  const key = (x: { nodes?: unknown; links?: unknown; name?: unknown }) => JSON.stringify([
    x.name,
    (x.nodes as { name: string; interfaces: { name: string; mac: string }[] }[] | undefined)?.map((n) => [n.name, n.interfaces.map((i) => [i.name, i.mac])]),
    (x.links as { id: string; endpoints: unknown }[] | undefined)?.map((l) => [l.id, l.endpoints]),
  ]);
  if (key(r) !== key(t)) {
    throw new TopoError(`--resolved ${file} does not match ${t.file} (names, links or MACs differ)`, {
      code: 'E_RESOLVED_MISMATCH', file, hint: 'render the manifests again from this file',
    });
  }
  return {
    ...(Number.isSafeInteger(r.seed) ? { seed: r.seed as number } : {}),
    ...(Number.isSafeInteger(r.epoch) ? { epoch: r.epoch as number } : {}),
  };
}
