import { describe, expect, it } from 'vitest';
import { stepNode, type Step } from '../../src/scenario/model.js';

const base = { index: 0, name: 's', line: 1 };

describe('stepNode', () => {
  it('names the node a step is about, whatever its kind', () => {
    const steps: [Step, string | undefined][] = [
      [{ ...base, kind: 'exec', node: 'r2', cmd: 'true', timeoutMs: 1000, expect: { exit: 0 } }, 'r2'],
      [{ ...base, kind: 'wait', node: 'r3', udp: false, port: 22, timeoutMs: 1000 }, 'r3'],
      [{ ...base, kind: 'node', node: 'r4', action: 'restart' }, 'r4'],
      [{ ...base, kind: 'link', endpoints: ['r5:eth1', 'r6:eth1'], link: 'r5:eth1--r6:eth1', state: 'down' }, 'r5'],
      [{ ...base, kind: 'impair', endpoints: ['r7', 'r8'], link: 'l', spec: { loss: '5%' }, clear: false, direction: 'both' }, 'r7'],
      [{ ...base, kind: 'copy', from: { local: '/tmp/x' }, to: { node: 'r9', path: '/x' } }, 'r9'],
      [{ ...base, kind: 'copy', from: { node: 'r1', path: '/x' }, to: { local: '/tmp/x' } }, 'r1'],
      [{ ...base, kind: 'sleep', ms: 10 }, undefined],
    ];
    for (const [step, node] of steps) expect(stepNode(step)).toBe(node);
  });
});
