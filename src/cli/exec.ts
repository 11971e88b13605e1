// `topo exec [LAB] NODE [--timeout 30s] -- CMD [ARGS...]`: run in the guest; its output, stdin and exit code are ours.
import ms from 'ms';
import { TopoError } from '../errors.js';
import { MAX_DATA_BYTES, MAX_OUTPUT_BYTES, MAX_TIMEOUT_MS, stdinTooLarge } from '../guest/agent-client.js';
import { DEFAULT_EXEC_TIMEOUT_MS } from '../api/exec-options.js';
import { openClient, splitLab, type LabFlags } from './lab-args.js';

/** coreutils `timeout` convention. */
export const EXIT_TIMEOUT = 124;

export async function execCommand(words: string[], argv: string[], flags: LabFlags & { timeout?: string; maxOutput?: string }): Promise<number> {
  const { lab, rest } = splitLab(words, 1, '[LAB] NODE -- CMD [ARGS...]');
  if (argv.length === 0) throw new TopoError('nothing to run: give the command after `--`', { code: 'E_USAGE', hint: 'topo exec r1 -- ip addr' });
  const timeout = parseTimeout(flags.timeout);
  const maxOutput = parseMaxOutput(flags.maxOutput);
  const stdin = process.stdin.isTTY ? undefined : await readAll(process.stdin);
  const remote = await openClient(lab, flags);
  try {
    // One word is a shell command line as typed (`topo exec r1 -- 'ip a | grep eth1'`); several are quoted word by word.
    const r = await remote.node(rest[0]!).exec(argv.length === 1 ? argv[0]! : argv, { timeout, stdin, maxOutput });
    // Waited for: topo exits right after, and a pipe takes only 64 KiB before the rest would be lost.
    await flushed(process.stdout, r.stdout);
    await flushed(process.stderr, r.stderr);
    if (r.timedOut) {
      process.stderr.write(`topo: ${rest[0]}: command timed out after ${ms(timeout, { long: true })} and was killed\n`);
      return EXIT_TIMEOUT;
    }
    return r.exitCode;
  } finally {
    await remote.close();
  }
}

function flushed(stream: NodeJS.WriteStream, data: Buffer): Promise<void> {
  return new Promise((resolve) => stream.write(data, () => resolve()));
}

export function parseTimeout(value: string | undefined): number {
  if (value === undefined) return DEFAULT_EXEC_TIMEOUT_MS;
  const n = /^\d+$/.test(value) ? Number(value) * 1000 : ms(value as ms.StringValue);
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new TopoError(`--timeout ${JSON.stringify(value)} is not a duration (e.g. 30s, 2m, 0 for none)`, { code: 'E_USAGE' });
  if (n > MAX_TIMEOUT_MS) throw new TopoError(`--timeout ${value} is longer than the longest exec timeout, 24 days`, { code: 'E_USAGE', hint: 'use --timeout 0 for none' });
  return n;
}

export function parseMaxOutput(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+)([KM]?)$/.exec(value);
  const n = m ? Number(m[1]) * (m[2] === 'M' ? 1024 * 1024 : m[2] === 'K' ? 1024 : 1) : NaN;
  if (!(n > 0) || n > MAX_OUTPUT_BYTES) throw new TopoError(`--max-output ${JSON.stringify(value)} is not a size from 1 to 64M (bytes, or K/M)`, { code: 'E_USAGE' });
  return n;
}

/** All of stdin, up to the exec limit: one byte more is refused at once rather than read to the end. */
async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream) {
    chunks.push(Buffer.from(c as Buffer));
    size += chunks.at(-1)!.length;
    if (size > MAX_DATA_BYTES) throw stdinTooLarge(`is over ${MAX_DATA_BYTES} bytes`);
  }
  return Buffer.concat(chunks);
}
