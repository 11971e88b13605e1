// Thin CLI (vite style): commander parses, each command lives in its own lazily imported module.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { isTopoError } from '../errors.js';
import { tolerateClosedOutput } from './stdio.js';

type Runner = () => Promise<number>;

export async function main(argvIn: string[]): Promise<number> {
  tolerateClosedOutput();
  let pending: Runner | undefined;
  // `topo exec ... -- CMD ARGS`: everything after the first `--` is the guest's argv, untouched by option parsing.
  const dd = argvIn.indexOf('--');
  const isExec = argvIn.slice(2).find((w) => !w.startsWith('-')) === 'exec';
  const argv = isExec && dd >= 0 ? argvIn.slice(0, dd) : argvIn;
  const guestArgv = isExec && dd >= 0 ? argvIn.slice(dd + 1) : [];
  const later = (fn: Runner) => {
    pending = fn;
  };

  const program = new Command('topo')
    .description('Declarative multi-VM topology runner')
    .version(await version(), '-V, --version')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) })
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('validate')
    .description('check topology files; print FILE:LINE:COL: error: MESSAGE per problem')
    .argument('<files...>', 'topology files')
    .option('--json', 'print a JSON report instead of lines')
    .action((files: string[], opts: { json?: boolean }) =>
      later(async () => (await import('./validate.js')).validateCommand(files, opts)),
    );

  program
    .command('graph')
    .description('draw the topology graph')
    .argument('<file>', 'topology file')
    .addOption(new Option('--format <format>', 'output format').choices(['dot', 'mermaid', 'json']).default('dot'))
    .action((file: string, opts: { format: 'dot' | 'mermaid' | 'json' }) =>
      later(async () => (await import('./graph.js')).graphCommand(file, opts)),
    );

  program
    .command('up')
    .description('boot every node of a topology, wire the links, supervise until Ctrl-C')
    .argument('<file>', 'topology file')
    .addOption(new Option('--accel <accel>', 'accelerator').choices(['auto', 'kvm', 'tcg']).env('TOPO_ACCEL'))
    .option('--no-ui', 'plain line-per-event output even on a terminal')
    .option('--json', 'print events as JSON lines')
    .option('--follow', 'prefix every node console line to stdout ("r1 | ...")')
    .option('--keep', 'keep the run directory (logs) after teardown')
    .option('--jobs <n>', 'nodes booting at once (default: one per core, more while a core measurably idles)', (v) => parsePositive(v, '--jobs'))
    .option('--run-dir <dir>', 'parent directory for run directories')
    .option('--capture-dir <dir>', 'where pcaps of links with capture: true go (default ./captures/<lab>)')
    .option('-d, --detach', 'return once every node is ready, leaving the lab running in the background')
    .option('--forward-all', 'forward every link through the runner (impair/capture any of them at run time)')
    .addOption(new Option('--supervise').hideHelp())
    .action((file: string, opts: Record<string, unknown>) =>
      later(async () => (await import('./up.js')).upCommand(file, opts)),
    );

  program
    .command('test')
    .description('run scenario files (or replay bundles) against fresh labs: steps, JUnit, reproduction bundles')
    .argument('<files...>', 'scenario files (*.scenario.yaml) or bundles (*.tar.gz)')
    .option('--junit <file>', 'write a JUnit XML report')
    .option('--keep', 'keep each run directory (logs) after teardown')
    .option('--bundle <dir>', 'always write a reproduction bundle into DIR (default: only on failure, into ./topo-bundles)')
    .option('--continue', 'run the remaining steps after a failed one')
    .option('--seed <n>', "override the scenario's seed", (v) => parseCount(v, '--seed'))
    .option('--pause-on-failure', 'keep the lab running after a failed step until Ctrl-C')
    .option('--attach <lab>', 'run the steps on this running lab (topo up --detach, or a topo up elsewhere) instead of booting one; it stays up')
    .option('--lab-file <file>', 'attach to the lab spread over runners that this lab file names (as --attach; topo k8s render --lab-file)')
    .option('--no-ui', 'plain line-per-step output even on a terminal')
    .addOption(new Option('--accel <accel>', 'accelerator').choices(['auto', 'kvm', 'tcg']).env('TOPO_ACCEL'))
    .option('--run-dir <dir>', 'parent directory for run directories')
    .action((files: string[], opts: Record<string, unknown>) => later(async () => (await import('./test.js')).testCommand(files, opts)));

  const runDirOption = () => new Option('--run-dir <dir>', 'parent directory of run directories').env('TOPO_RUN_DIR');
  const labFileOption = () => new Option('--lab-file <file>', 'the lab spread over runners that this lab file names (topo k8s render --lab-file), instead of a lab of this host').env('TOPO_LAB_FILE');
  program
    .command('ps')
    .description('list running labs: nodes, states, pids, ports, links')
    .argument('[lab]', 'only this lab')
    .option('--json', 'print JSON')
    .addOption(runDirOption())
    .addOption(labFileOption())
    .action((lab: string | undefined, opts: Record<string, unknown>) => later(async () => (await import('./ps.js')).psCommand(lab, opts)));
  program
    .command('exec')
    .description('run a command in a node through its agent: topo exec [LAB] NODE -- CMD [ARGS...]')
    .argument('<words...>', '[LAB] NODE')
    .option('--timeout <duration>', 'kill the command after this long (default 300s; 0: none); exit code 124')
    .option('--max-output <size>', 'fail (E_OUTPUT_LIMIT) when stdout and stderr together exceed this: bytes, or K/M (default and most 64M)')
    .addOption(runDirOption())
    .addOption(labFileOption())
    .action((words: string[], opts: Record<string, unknown>) => later(async () => (await import('./exec.js')).execCommand(words, guestArgv, opts)));
  program
    .command('console')
    .description("attach to a node's serial console (Ctrl-] leaves): topo console [LAB] NODE")
    .argument('<words...>', '[LAB] NODE')
    .addOption(runDirOption())
    .addOption(labFileOption())
    .action((words: string[], opts: Record<string, unknown>) => later(async () => (await import('./console.js')).consoleCommand(words, opts)));
  program
    .command('logs')
    .description("what a node's console printed: topo logs [LAB] NODE [-f] [--tail N]")
    .argument('<words...>', '[LAB] NODE')
    .option('-f, --follow', 'keep printing new output')
    .option('--tail <n>', 'only the last N lines', (v) => parseCount(v, '--tail'))
    .addOption(runDirOption())
    .addOption(labFileOption())
    .action((words: string[], opts: Record<string, unknown>) => later(async () => (await import('./logs.js')).logsCommand(words, opts)));
  program
    .command('link')
    .description('take a link down or up (carrier at both ends): topo link [LAB] ENDPOINT down|up')
    .argument('<words...>', '[LAB] ENDPOINT down|up')
    .addOption(runDirOption())
    .addOption(labFileOption())
    .action((words: string[], opts: Record<string, unknown>) => later(async () => (await import('./link.js')).linkCommand(words, opts)));
  const impair = program
    .command('impair')
    .description('change a forwarded link\'s impairment while the lab runs: topo impair [LAB] ENDPOINT [--delay D] ... | --clear | --show')
    .argument('[words...]', '[LAB] ENDPOINT');
  for (const [flag, what] of [['delay', 'one-way delay (40ms)'], ['jitter', 'delay variation (5ms)'], ['loss', 'loss percent (0.5%)'], ['rate', 'bandwidth (20mbit)'], ['duplicate', 'duplicate percent'], ['reorder', 'reorder percent'], ['corrupt', 'corrupt percent']] as const) {
    impair.option(`--${flag} <value>`, what);
  }
  impair
    .option('--direction <dir>', 'both (default), out (frames ENDPOINT sends) or in (frames it receives)')
    .option('--clear', 'remove the impairment')
    .option('--show', "print every forwarded link's impairments")
    .option('--json', 'print JSON')
    .addOption(runDirOption())
    .addOption(labFileOption())
    .action((words: string[], opts: Record<string, unknown>) => later(async () => (await import('./impair.js')).impairCommand(words, opts)));
  program
    .command('capture')
    .description('stream a live capture of a forwarded link: topo capture [LAB] ENDPOINT -w - | tcpdump -r -')
    .argument('<words...>', '[LAB] ENDPOINT')
    .option('-w, --write <file>', 'where to write (- for stdout, the default)')
    .addOption(new Option('--format <format>', 'pcap, or pcapng with one interface per endpoint (default for segments)').choices(['pcap', 'pcapng']))
    .addOption(runDirOption())
    .addOption(labFileOption())
    .action((words: string[], opts: Record<string, unknown>) => later(async () => (await import('./capture.js')).captureCommand(words, opts)));
  program
    .command('cp')
    .description('copy a file to or from a running node (binary safe, mode kept): topo cp [LAB] NODE:/PATH LOCAL | [LAB] LOCAL NODE:/PATH')
    .argument('<words...>', '[LAB] SOURCE DEST')
    .addOption(runDirOption())
    .addOption(labFileOption())
    .action((words: string[], opts: Record<string, unknown>) => later(async () => (await import('./cp.js')).cpCommand(words, opts)));
  program
    .command('bundle')
    .description('write a reproduction bundle of a running lab: topo bundle [LAB] -o FILE.tar.gz')
    .argument('[lab]', 'the lab (default: the only one running)')
    .requiredOption('-o, --output <file>', 'the bundle to write')
    .addOption(runDirOption())
    .action((lab: string | undefined, opts: Record<string, unknown>) => later(async () => (await import('./bundle.js')).bundleCommand(lab ? [lab] : [], opts)));
  program
    .command('channel')
    .description("bridge a node's extra virtio-serial channel to stdin/stdout: topo channel [LAB] NODE NAME")
    .argument('<words...>', '[LAB] NODE NAME')
    .addOption(runDirOption())
    .addOption(labFileOption())
    .action((words: string[], opts: Record<string, unknown>) => later(async () => (await import('./channel.js')).channelCommand(words, opts)));
  program
    .command('events')
    .description("the lab's events so far (node states, links, impairments, steps); -f follows: topo events [LAB] [-f] [--json] [--interval 1s]")
    .argument('[lab]', 'the lab (default: the only one running)')
    .option('-f, --follow', 'keep printing new events until the lab stops')
    .option('--json', 'one JSON object per line (time, type, ...)')
    .option('--interval <duration>', 'add a counters event per forwarded endpoint this often')
    .addOption(runDirOption())
    .addOption(labFileOption())
    .action((lab: string | undefined, opts: Record<string, unknown>) => later(async () => (await import('./events.js')).eventsCommand(lab, opts)));
  program
    .command('web')
    .description('serve a live page of a running lab on 127.0.0.1: topo web [LAB] [--port N] [--open]')
    .argument('[lab]', 'the lab (default: the only one running)')
    .option('--port <n>', 'port to listen on (default: a free one)', (v) => parseCount(v, '--port'))
    .option('--open', 'open the page in a browser')
    .addOption(runDirOption())
    .action((lab: string | undefined, opts: Record<string, unknown>) => later(async () => (await import('./web.js')).webCommand(lab, opts)));
  program
    .command('down')
    .description('stop a running lab (or clean up a stale one): topo down [LAB] [--all]')
    .argument('[lab]', 'the lab (default: the only one running)')
    .option('--all', 'every lab')
    .addOption(runDirOption())
    .addOption(labFileOption())
    .action((lab: string | undefined, opts: Record<string, unknown>) => later(async () => (await import('./down.js')).downCommand(lab, opts)));

  program
    .command('node')
    .description('run one node of a lab spread over several hosts (what each pod runs; `topo k8s render` writes the arguments)')
    .argument('<file>', 'topology file')
    .argument('<node>', 'the node this runner runs')
    .option('--resolved <file>', 'the resolved model `topo k8s render` fixed (seed, epoch; checked against FILE)')
    .option('--secret-file <file>', "the lab's link secret (hex): link hellos and the control port prove it")
    .option('--epoch <n>', "the lab's incarnation: runners of another epoch refuse each other", (v) => parseCount(v, '--epoch'))
    .option('--listen <addr>', 'address the link ends, control and health ports bind (default 127.0.0.1)')
    .option('--control-port <port>', 'serve the control protocol over TCP (authenticated with the secret)', (v) => parsePort(v, '--control-port'))
    .option('--health-port <port>', 'serve /alive and /ready over HTTP (probes)', (v) => parsePort(v, '--health-port'))
    .option('--link <spec>', 'a link end in another runner: ID@NODE:IFACE=listen:PORT or =dial:HOST:PORT, /plain for hello-less (repeatable)', (v: string, acc: string[] = []) => [...acc, v])
    .addOption(new Option('--accel <accel>', 'accelerator').choices(['auto', 'kvm', 'tcg']).env('TOPO_ACCEL'))
    .option('--run-dir <dir>', 'parent directory for run directories')
    .option('--keep', 'keep the run directory (logs) after teardown')
    .option('--json', 'print events as JSON lines')
    .action((file: string, node: string, opts: Record<string, unknown>) => later(async () => (await import('./node.js')).nodeCommand(file, node, opts)));

  program
    .command('k8s')
    .description('run a lab on Kubernetes (preview): topo k8s render FILE prints its manifests')
    .command('render')
    .description('print Kubernetes manifests for a topology: a Deployment and Service per node, ConfigMap, Secret')
    .argument('<file>', 'topology file')
    .option('--image <image>', 'the runner image (default localhost/topo-runner:latest)')
    .option('--namespace <ns>', 'namespace of every object')
    .option('--host-network', "every runner on the host's network with its own ports (engines without Services, e.g. podman)")
    .option('--kvm', "mount the host's /dev/kvm into each pod (default: TCG, no device)")
    .option('--lab-file <file>', 'also write the lab file (each node\'s control address and the lab secret, mode 0600) for --lab-file of ps, exec, ...')
    .action((file: string, opts: Record<string, unknown>) => later(async () => (await import('./k8s.js')).k8sRenderCommand(file, opts)));

  const guest = program.command('guest').description('the embedded default guest (kernel + initramfs)');
  guest
    .command('build')
    .description('build (or verify) the default guest in the cache')
    .option('--force', 'rebuild even when the cache is valid')
    .action((opts: { force?: boolean }) => later(async () => (await import('./guest.js')).guestBuildCommand(opts)));
  guest
    .command('info')
    .description('print where the default guest lives and what it is built from')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => later(async () => (await import('./guest.js')).guestInfoCommand(opts)));
  guest
    .command('esp')
    .description('write a bootable EFI system partition image of the default guest (for kind: uefi nodes)')
    .argument('<out>', 'image file to write')
    .option('--force', 'rebuild the image even when it is cached')
    .action((out: string, opts: { force?: boolean }) => later(async () => (await import('./guest.js')).guestEspCommand(out, opts)));

  program
    .command('doctor')
    .description('check everything `topo up` needs and print the fix for each gap')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => later(async () => (await import('./doctor.js')).doctorCommand(opts)));

  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  if (!pending) return 0;
  try {
    return await pending();
  } catch (err) {
    // Last line of defence: never a stack trace for a user-facing failure.
    if (isTopoError(err)) {
      process.stderr.write(`topo: ${err.oneLine()}\n`);
      return err.code === 'E_USAGE' ? 2 : 1;
    }
    process.stderr.write(`topo: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    if (process.env.TOPO_DEBUG) process.stderr.write(`${err instanceof Error ? err.stack : ''}\n`);
    return 70;
  }
}

function parseCount(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${flag} must be a whole number`);
  return n;
}

function parsePort(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`${flag} must be a port number (0-65535)`);
  return n;
}

function parsePositive(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} must be a positive integer`);
  return n;
}

async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
