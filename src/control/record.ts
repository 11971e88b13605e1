// The lab's record of hand work: every control operation it serves (exec, link, impair, node actions, cp) goes to
// its journal (events.jsonl) with its result, so `topo bundle` can write them as a scenario's steps. A console
// session is noted, what is typed in it is not (keystrokes are not steps).
import path from 'node:path';
import type { OpEvent } from '../api/events.js';
import { linkIndex, statusNames } from '../api/lookup.js';
import type { Served } from '../api/served.js';
import { DOWNLOAD_HEAD_SCRIPT, downloadBodyArgv, UPLOAD_SCRIPT } from '../guest/copy-scripts.js';
import { outputTail } from '../host/printable.js';
import { errorBody, type Request } from './protocol.js';

/** Stdin up to this size, when it is text, goes into the journal (and the step); larger stays a byte count. */
const STDIN_TEXT_MAX = 64 * 1024;
/** Files uploaded with `topo cp` are kept here in the run directory, for the bundle. */
export const RECORDED_DIR = 'recorded';

interface Recorder {
  seq: number;
  dir?: Promise<unknown>;
  /** node -> guest path of a download whose `cat` is still to come. */
  downloads: Map<string, string>;
}
const recorders = new WeakMap<Served['lab'], Recorder>();

/** Runs `work` (the server's handling of `req`) and journals the operation with its outcome. */
export async function recorded<T>(lab: Served, req: Request, work: Promise<T>): Promise<T> {
  const started = Date.now();
  let result: T;
  try {
    result = await work;
  } catch (err) {
    await note(lab, req, Date.now() - started, undefined, err).catch(() => undefined);
    throw err;
  }
  await note(lab, req, Date.now() - started, result).catch(() => undefined);
  return result;
}

type ExecReply = { exitCode: number; timedOut: boolean; stdout: string; stderr: string };

async function note(lab: Served, req: Request, ms: number, result: unknown, err?: unknown): Promise<void> {
  const error = err === undefined ? undefined : (({ code, message }) => ({ code, message }))(errorBody(err));
  const emit = (e: Omit<OpEvent, 'type' | 'ms'>) => lab.host.journal({ type: 'op', ms, ...e, ...(error ? { error } : {}) });
  switch (req.op) {
    case 'exec':
      return noteExec(lab, req, result as ExecReply | undefined, emit);
    case 'link':
      return emit({ op: 'link', endpoint: await endpointName(lab, req.endpoint), state: req.state });
    case 'impair':
      if (req.endpoint === undefined) return; // --show changes nothing
      return emit({ op: 'impair', endpoint: await endpointName(lab, req.endpoint), ...(req.clear ? { clear: true } : { spec: { ...(req.spec ?? {}) } }), ...(req.direction && req.direction !== 'both' ? { direction: req.direction } : {}) });
    case 'node':
      return emit({ op: 'node', node: req.node, action: req.action });
    case 'console':
      return emit({ op: 'console', node: req.node });
    default:
      return;
  }
}

async function noteExec({ lab, host }: Served, req: Extract<Request, { op: 'exec' }>, r: ExecReply | undefined, emit: (e: Omit<OpEvent, 'type' | 'ms'>) => void): Promise<void> {
  const rec = recorders.get(lab) ?? { seq: 0, downloads: new Map<string, string>() };
  recorders.set(lab, rec);
  const cmd = req.cmd;
  const argv = Array.isArray(cmd) ? (cmd as string[]) : undefined;
  const stdout = r ? Buffer.from(r.stdout, 'base64') : Buffer.alloc(0);
  const failed = r && (r.timedOut || r.exitCode !== 0) ? { code: r.timedOut ? 'E_TIMEOUT' : 'E_EXIT', message: r.timedOut ? 'timed out' : `exit ${r.exitCode}` } : undefined;
  // `topo cp` is a few execs of known scripts: one cp entry stands for them.
  if (argv?.[2] === UPLOAD_SCRIPT && argv.length === 6) {
    const data = Buffer.from(req.stdin ?? '', 'base64');
    let file: string | undefined;
    if (r && !failed) {
      rec.dir ??= host.createDir(RECORDED_DIR);
      await rec.dir;
      file = `${RECORDED_DIR}/${++rec.seq}-${safeName(argv[4]!)}`;
      await host.createFile(file, data);
    }
    return emit({ op: 'cp', node: req.node, to: `${req.node}:${argv[4]}`, bytes: data.length, ...(file ? { file } : {}), ...(failed ? { error: failed } : {}) });
  }
  if (argv?.[2] === DOWNLOAD_HEAD_SCRIPT && argv.length === 5) {
    if (r && !failed) return void rec.downloads.set(req.node, argv[4]!);
    return emit({ op: 'cp', node: req.node, from: `${req.node}:${argv[4]}`, ...(failed ? { error: failed } : {}) });
  }
  const pending = rec.downloads.get(req.node);
  if (argv && pending !== undefined && argv.join('\0') === downloadBodyArgv(pending).join('\0')) {
    rec.downloads.delete(req.node);
    return emit({ op: 'cp', node: req.node, from: `${req.node}:${pending}`, bytes: stdout.length, ...(failed ? { error: failed } : {}) });
  }
  const stdin = req.stdin ? Buffer.from(req.stdin, 'base64') : undefined;
  const text = stdin && stdin.length <= STDIN_TEXT_MAX && !stdin.includes(0) && Buffer.from(stdin.toString('utf8')).equals(stdin) ? stdin.toString('utf8') : undefined;
  emit({
    op: 'exec',
    node: req.node,
    cmd,
    ...(req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs } : {}),
    ...(text !== undefined ? { stdin: text } : stdin ? { stdinBytes: stdin.length } : {}),
    ...(r ? { exit: r.exitCode, timedOut: r.timedOut, stdout: outputTail(stdout), stderr: outputTail(Buffer.from(r.stderr, 'base64')) } : {}),
  });
}

/** An endpoint as a scenario step names it (NODE:IFACE), also when the command named the link by its id. */
async function endpointName({ lab }: Served, endpoint: string): Promise<string> {
  if (/^[a-z][a-z0-9-]*:eth\d+$/.test(endpoint)) return endpoint;
  try {
    const names = statusNames(await lab.status());
    return names.links[linkIndex(names, endpoint)]!.endpoints[0]!;
  } catch {
    return endpoint;
  }
}

function safeName(guestPath: string): string {
  return path.posix.basename(guestPath).replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '') || 'file';
}
