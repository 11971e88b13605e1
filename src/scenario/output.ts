// A step's output as evidence: the last few KiB of each stream, as report text (terminal sequences dropped).
import { reportText } from '../ui/plain.js';

/** Per stream: enough for the lines that prove a result, small enough for a JUnit file of hundreds of steps. */
export const OUTPUT_TAIL_BYTES = 4096;

export interface StepOutput {
  stdout: string;
  stderr: string;
}

/** The last `max` bytes of a stream, cut at a line start, saying how much went before. */
export function outputTail(b: Buffer, max = OUTPUT_TAIL_BYTES): string {
  if (b.length <= max) return reportText(b.toString('utf8'));
  let start = b.length - max;
  const nl = b.indexOf(0x0a, start);
  if (nl !== -1 && nl < b.length - 1) start = nl + 1;
  return `[${start} earlier bytes not kept]\n${reportText(b.subarray(start).toString('utf8'))}`;
}

export function stepOutput(r: { stdout: Buffer; stderr: Buffer }): StepOutput {
  return { stdout: outputTail(r.stdout), stderr: outputTail(r.stderr) };
}
