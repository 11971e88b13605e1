// One normalisation of exec options for the local lab and the remote one.
import { describe, expect, it } from 'vitest';
import { commandLine, DEFAULT_EXEC_TIMEOUT_MS, normalizeExecOptions } from '../../src/api/exec-options.js';
import { MAX_DATA_BYTES, MAX_TIMEOUT_MS } from '../../src/guest/agent-client.js';

describe('normalizeExecOptions', () => {
  it('no timeout asked: the default applies, and nothing is asked of a remote lab', () => {
    expect(normalizeExecOptions()).toEqual({ asked: undefined, timeoutMs: DEFAULT_EXEC_TIMEOUT_MS, stdin: undefined, signal: undefined, maxOutput: undefined });
    expect(DEFAULT_EXEC_TIMEOUT_MS).toBe(300_000);
  });

  it('timeout wins over the deprecated timeoutMs; 0 (none) is kept as asked', () => {
    expect(normalizeExecOptions({ timeout: 5, timeoutMs: 9 })).toMatchObject({ asked: 5, timeoutMs: 5 });
    expect(normalizeExecOptions({ timeoutMs: 9 })).toMatchObject({ asked: 9, timeoutMs: 9 });
    expect(normalizeExecOptions({ timeout: 0 })).toMatchObject({ asked: 0, timeoutMs: 0 });
  });

  it('stdin text becomes its UTF-8 bytes; signal and maxOutput pass through', () => {
    const signal = new AbortController().signal;
    const o = normalizeExecOptions({ stdin: 'é\n', signal, maxOutput: 10 });
    expect(o.stdin).toEqual(Buffer.from('é\n'));
    expect(o.signal).toBe(signal);
    expect(o.maxOutput).toBe(10);
  });

  it('limits are refused before anything is sent: a timeout over 24 days, stdin over 64 MiB', () => {
    expect(() => normalizeExecOptions({ timeout: MAX_TIMEOUT_MS + 1 }, 'r1')).toThrow(expect.objectContaining({ code: 'E_BAD_REQUEST', node: 'r1' }));
    expect(() => normalizeExecOptions({ stdin: Buffer.alloc(MAX_DATA_BYTES + 1) }, 'r1')).toThrow(expect.objectContaining({ code: 'E_TOO_LARGE', node: 'r1' }));
    expect(() => normalizeExecOptions({ timeout: MAX_TIMEOUT_MS, stdin: Buffer.alloc(MAX_DATA_BYTES) })).not.toThrow();
  });
});

describe('commandLine', () => {
  it('a string runs as typed; an argv is quoted word by word', () => {
    expect(commandLine('echo $HOME | wc')).toBe('echo $HOME | wc');
    expect(commandLine(['printf', '%s', "a 'b' $c"])).toBe(`printf %s 'a '\\''b'\\'' $c'`);
  });
});
