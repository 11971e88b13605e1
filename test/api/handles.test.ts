// Both lab objects are the one LabHandle: checked by the type checker (`npx tsc`) and, method by method, at run time.
import { describe, expect, it } from 'vitest';
import type { LabHandle } from '../../src/api/handles.js';
import { Lab } from '../../src/runtime/running-lab.js';
import { RemoteLab } from '../../src/control/remote-lab.js';

// Type level: each class is assignable to the interface (a Promise-or-value status(), or a missing method, fails tsc).
export const local = (lab: Lab): LabHandle => lab;
export const remote = (lab: RemoteLab): LabHandle => lab;

// Every method of the interface, checked exhaustive by the type checker.
const METHODS = ['status', 'node', 'link', 'exec', 'ports', 'hostPort', 'impairments', 'down', 'close'] as const satisfies readonly (keyof LabHandle)[];
type Unlisted = Exclude<keyof LabHandle, (typeof METHODS)[number] | 'name' | typeof Symbol.asyncDispose>;
export const exhaustive: [Unlisted] extends [never] ? true : false = true;

describe('LabHandle', () => {
  it.each([
    ['Lab (up())', Lab.prototype],
    ['RemoteLab (connect())', RemoteLab.prototype],
  ])('%s has every method of the interface and disposes asynchronously', (_name, proto) => {
    const p = proto as unknown as Record<string | symbol, unknown>;
    expect(METHODS.filter((m) => typeof p[m] !== 'function')).toEqual([]);
    expect(typeof p[Symbol.asyncDispose]).toBe('function');
  });
});
