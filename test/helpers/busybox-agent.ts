// guest/agent.sh without a VM, behind an AgentClient: the harness is test/fixtures/busybox-agent.mjs (the fake QEMU uses it too).
import { Duplex } from 'node:stream';
import { AgentClient } from '../../src/guest/agent-client.js';
import { makeBusyboxBin, spawnBusyboxAgent } from '../fixtures/busybox-agent.mjs';
import { tempDir } from './tmp.js';

export interface BusyboxAgent {
  client: AgentClient;
  stop(): Promise<void>;
}

export async function startBusyboxAgent(): Promise<BusyboxAgent> {
  const bin = makeBusyboxBin(tempDir('topo-bbagent-'));
  const harness = spawnBusyboxAgent(bin);
  const { readable, writable } = await harness.ready;
  const client = new AgentClient(Duplex.from({ readable, writable }), 'bb', { greetingTimeoutMs: 10_000 });
  return {
    client,
    async stop() {
      client.close();
      await harness.stop();
    },
  };
}
