// A step's output as evidence: the last few KiB of each stream, as report text (terminal sequences dropped).
import { outputTail } from '../host/printable.js';

export interface StepOutput {
  stdout: string;
  stderr: string;
}

export function stepOutput(r: { stdout: Buffer; stderr: Buffer }): StepOutput {
  return { stdout: outputTail(r.stdout), stderr: outputTail(r.stderr) };
}
