// guest/agent.sh without a VM: the host's busybox runs it in its own mount and PID namespaces (root only),
// where a pty stands in for the virtio-serial port and busybox applets stand in for the guest's /usr/bin.
// A command's `killall` then sees the agent's processes only, never the host's.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Duplex } from 'node:stream';
import { AgentClient, shellQuote } from '../../src/guest/agent-client.js';
import { repoRoot } from './cli.js';
import { tempDir } from './tmp.js';

// Runs as PID 1 of the namespace, on the pty: raw mode, a fake sysfs naming the port, then the agent itself.
const SETUP = `set -e
stty raw -echo
tty=$(tty)
mount -t tmpfs tmpfs /run
mkdir -p /run/topo
mount -t tmpfs tmpfs /sys/class
mkdir -p /sys/class/virtio-ports/tty
echo org.topo.agent > /sys/class/virtio-ports/tty/name
mount -t tmpfs tmpfs /sys/bus
mkdir -p /sys/bus/virtio/drivers/virtio_console/virtio0
mount --bind "$tty" /dev/tty
mount --bind "$1" /usr/bin
mount --bind "$1" /usr/sbin
echo TOPO-AGENT-HARNESS-READY
exec sh "$2" </dev/null >/dev/null 2>&1
`;

export interface BusyboxAgent {
  client: AgentClient;
  stop(): Promise<void>;
}

export async function startBusyboxAgent(): Promise<BusyboxAgent> {
  const dir = tempDir('topo-bbagent-');
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  copyFileSync('/bin/busybox', path.join(bin, 'busybox'));
  for (const applet of execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n')) {
    if (applet !== '' && applet !== 'busybox') symlinkSync('busybox', path.join(bin, applet));
  }
  const setup = path.join(dir, 'setup.sh');
  writeFileSync(setup, SETUP);
  const inner = ['unshare', '--mount', '--pid', '--fork', '--mount-proc', '--kill-child',
    path.join(bin, 'busybox'), 'sh', setup, bin, path.join(repoRoot, 'guest/agent.sh')];
  // script(1) gives the namespace a pty; it takes one command line, so the words are quoted for sh.
  const child: ChildProcess = spawn('script', ['-q', '-e', '-c', shellQuote(inner), '/dev/null'], {
    // script's own farewell on stderr is noise.
    stdio: ['pipe', 'pipe', 'ignore'],
    env: { ...process.env, SHELL: '/bin/sh' },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Whatever the pty echoed before raw mode comes before the marker; the agent's lines come after it.
  const stream = await new Promise<Duplex>((resolve, reject) => {
    let seen = '';
    const onData = (c: Buffer): void => {
      seen += c.toString('latin1');
      const at = seen.indexOf('TOPO-AGENT-HARNESS-READY\n');
      if (at === -1) return;
      child.stdout!.off('data', onData);
      const rest = Buffer.from(seen.slice(at + 'TOPO-AGENT-HARNESS-READY\n'.length), 'latin1');
      if (rest.length > 0) child.stdout!.unshift(rest);
      resolve(Duplex.from({ readable: child.stdout!, writable: child.stdin! }));
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`agent harness exited (${code}) before it was ready: ${seen}`)));
  });
  const client = new AgentClient(stream, 'bb', { greetingTimeoutMs: 10_000 });
  return {
    client,
    async stop() {
      client.close();
      // unshare's --kill-child takes PID 1 of the namespace, and with it every process in there.
      child.kill('SIGTERM');
      await exited;
    },
  };
}
