// The console lines the host acts on, parsed next to the guest's configuration format (init.sh prints them).
import { describe, expect, it } from 'vitest';
import { guestExitCause, parseConsoleLine, readyLinePattern } from '../../src/guest/console-lines.js';
import { readyLine } from '../../src/guest/config.js';

describe('parseConsoleLine', () => {
  it("reads this run's ready line, whole, and nothing that merely contains it", () => {
    expect(parseConsoleLine(readyLine('abc123'), 'abc123')).toEqual({ kind: 'ready' });
    expect(parseConsoleLine(`${readyLine('abc123')}\r`, 'abc123')).toEqual({ kind: 'ready' });
    expect(parseConsoleLine(readyLine('0ld'), 'abc123')).toBeUndefined();
    expect(parseConsoleLine(`echo ${readyLine('abc123')}`, 'abc123')).toBeUndefined();
    expect(parseConsoleLine(readyLine('abc123'))).toBeUndefined();
  });

  it("reads init.sh's failed run: line with the command", () => {
    expect(parseConsoleLine('topo-guest: run[2] failed with exit code 7: false')).toEqual({ kind: 'run-failed', detail: 'run[2] failed with exit code 7: false' });
    expect(parseConsoleLine('topo-guest: insmod virtio_net.ko failed')).toBeUndefined();
  });

  it("reads the kernel's panic, reboot and power-off lines", () => {
    expect(parseConsoleLine('[    9.1] Kernel panic - not syncing: sysrq triggered crash')).toEqual({ kind: 'guest-exit', cause: 'panic' });
    expect(parseConsoleLine('[   12.0] reboot: Restarting system')).toEqual({ kind: 'guest-exit', cause: 'reboot' });
    expect(parseConsoleLine('[    3.0] reboot: Power down')).toEqual({ kind: 'guest-exit', cause: 'poweroff' });
    expect(parseConsoleLine('an ordinary line')).toBeUndefined();
  });
});

describe('guestExitCause', () => {
  it('reads the last panic, reboot or power-off line of the console tail', () => {
    expect(guestExitCause('a\n[ 1.0] Kernel panic - not syncing: sysrq triggered crash\n---[ end Kernel panic ]---')).toBe('panic');
    expect(guestExitCause('[ 2.0] reboot: Restarting system')).toBe('reboot');
    expect(guestExitCause('reboot: Restarting system\n[ 3.0] reboot: Power down')).toBe('poweroff');
    expect(guestExitCause('nothing known here')).toBeUndefined();
  });
});

describe('readyLinePattern', () => {
  it('is the pattern readiness waits for: its source names the line', () => {
    const p = readyLinePattern('ff00');
    expect(p.source).toBe('topo-guest: ready ff00');
    expect(p.test('topo-guest: ready ff00')).toBe(true);
    expect(p.test('topo-guest: ready ff001')).toBe(false);
  });
});
