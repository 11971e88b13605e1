// The lab's one resource stack: reverse order, once, and a throwing release does not keep the others from running.
import { describe, expect, it } from 'vitest';
import { ResourceStack } from '../../src/host/resource-stack.js';

describe('ResourceStack', () => {
  it('releases in reverse order of acquisition, each once, whoever calls release', async () => {
    const log: string[] = [];
    const stack = new ResourceStack();
    for (const name of ['a', 'b', 'c']) stack.defer(name, async () => void log.push(name));
    const [first, second] = await Promise.all([stack.release(), stack.release()]);
    expect(log).toEqual(['c', 'b', 'a']);
    expect(first).toEqual([]);
    expect(second).toBe(first);
    await stack.release();
    expect(log).toEqual(['c', 'b', 'a']);
  });

  it('a release that throws is reported and the rest still run', async () => {
    const log: string[] = [];
    const seen: string[] = [];
    const stack = new ResourceStack((e) => seen.push(`${e.name}: ${(e.error as Error).message}`));
    stack.defer('a', () => void log.push('a'));
    stack.defer('b', () => {
      throw new Error('boom');
    });
    stack.defer('c', async () => {
      log.push('c');
      throw new Error('async boom');
    });
    const errors = await stack.release();
    expect(log).toEqual(['c', 'a']);
    expect(errors.map((e) => e.name)).toEqual(['c', 'b']);
    expect(seen).toEqual(['c: async boom', 'b: boom']);
  });

  it('use() returns the value and registers its release', async () => {
    const closed: number[] = [];
    const stack = new ResourceStack();
    const v = stack.use('n', 42, (n) => void closed.push(n));
    expect(v).toBe(42);
    await stack.release();
    expect(closed).toEqual([42]);
  });

  it('something acquired after the release started is released too, not leaked', async () => {
    const log: string[] = [];
    const stack = new ResourceStack();
    stack.defer('slow', () => new Promise((r) => setTimeout(r, 10)).then(() => void log.push('slow')));
    const done = stack.release();
    stack.defer('late', () => void log.push('late'));
    await done;
    await new Promise((r) => setTimeout(r, 0));
    expect(log).toEqual(['slow', 'late']);
  });
});
