// guest/agent.sh itself, run by the host's busybox without a VM (see test/helpers/busybox-agent.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBusyboxAgent, type BusyboxAgent } from '../helpers/busybox-agent.js';

let agent: BusyboxAgent;
beforeAll(async () => void (agent = await startBusyboxAgent()));
afterAll(() => agent?.stop());

describe('agent.sh under busybox', () => {
  it('runs a command and replies with its own result', async () => {
    const r = await agent.client.exec('echo out; echo err >&2; exit 3', { timeoutMs: 10_000 });
    expect({ ...r, stdout: r.stdout.toString(), stderr: r.stderr.toString() }).toEqual({ exitCode: 3, timedOut: false, stdout: 'out\n', stderr: 'err\n' });
  });

  it('a command that kills every sleep (the timeout watcher too) still gets its own result, not a timeout', async () => {
    // The command, once the watcher's sleep is surely running (under TCG it always was).
    const r = await agent.client.exec('until pidof sleep >/dev/null; do usleep 10000; done; killall sleep; echo after; sleep 1; echo done', { timeoutMs: 300_000 });
    expect({ code: r.exitCode, timedOut: r.timedOut, out: r.stdout.toString() }).toEqual({ code: 0, timedOut: false, out: 'after\ndone\n' });
  });

  it('killing the watcher over and over does not take its timeout away', async () => {
    const r = await agent.client.exec('while :; do killall -q sleep; usleep 20000; done', { timeoutMs: 1500 });
    expect({ code: r.exitCode, timedOut: r.timedOut }).toEqual({ code: 137, timedOut: true });
  });

  it('a command that outlives its timeout is killed and marked timed out', async () => {
    const r = await agent.client.exec('echo started; sleep 30; echo never', { timeoutMs: 500 });
    expect({ code: r.exitCode, timedOut: r.timedOut, out: r.stdout.toString() }).toEqual({ code: 137, timedOut: true, out: 'started\n' });
  });
});
