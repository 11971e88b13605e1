import { describe, expect, it } from 'vitest';
import { LearningSwitch, macAt, macToString } from '../../src/net/switch.js';
import { BROADCAST, ethFrame, mac } from './helpers.js';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';
const C = '02:00:00:00:00:0c';

function sw(ports = 4, agingMs?: number): { s: LearningSwitch; clock: { t: number } } {
  const clock = { t: 0 };
  return { s: new LearningSwitch({ ports, agingMs, now: () => clock.t }), clock };
}

describe('LearningSwitch', () => {
  it('parses MACs exactly', () => {
    expect(macToString(macAt(mac('fe:dc:ba:98:76:54'), 0))).toBe('fe:dc:ba:98:76:54');
  });

  it('floods unknown unicast, broadcast and multicast to all ports but the ingress', () => {
    const { s } = sw();
    expect(s.forward(0, ethFrame(B, A, 'x'))).toEqual([1, 2, 3]);
    expect(s.forward(2, ethFrame(BROADCAST, C, 'x'))).toEqual([0, 1, 3]);
    expect(s.forward(1, ethFrame('01:00:5e:00:00:01', B, 'x'))).toEqual([0, 2, 3]);
    // Even once a multicast group "address" was seen as a source, it keeps flooding.
    expect(s.forward(3, ethFrame('33:33:00:00:00:01', '33:33:00:00:00:01', 'x'))).toEqual([0, 1, 2]);
    expect(s.counters.flooded).toBe(4);
  });

  it('learns sources and then forwards unicast to exactly one port', () => {
    const { s } = sw();
    s.forward(0, ethFrame(BROADCAST, A, 'hello'));
    s.forward(2, ethFrame(A, C, 'reply'));
    expect(s.forward(2, ethFrame(A, C, 'x'))).toEqual([0]);
    expect(s.forward(0, ethFrame(C, A, 'x'))).toEqual([2]);
    expect(s.lookup(macAt(mac(A), 0))).toBe(0);
    expect(s.macCount).toBe(2);
  });

  it('relearns a station that moved', () => {
    const { s } = sw();
    s.forward(0, ethFrame(BROADCAST, A, 'x'));
    s.forward(3, ethFrame(BROADCAST, A, 'moved'));
    expect(s.forward(1, ethFrame(A, B, 'x'))).toEqual([3]);
  });

  it('never hairpins: a destination learned on the ingress port is filtered', () => {
    const { s } = sw();
    s.forward(1, ethFrame(BROADCAST, A, 'x'));
    s.forward(1, ethFrame(BROADCAST, B, 'x'));
    expect(s.forward(1, ethFrame(B, A, 'x'))).toEqual([]);
    expect(s.counters.filtered).toBe(1);
    for (let p = 0; p < 4; p++) expect(s.forward(p, ethFrame(BROADCAST, C, 'x'))).not.toContain(p);
  });

  it('ages entries out (300 s default) and floods again', () => {
    const { s, clock } = sw();
    s.forward(0, ethFrame(BROADCAST, A, 'x'));
    clock.t = 300_000;
    expect(s.forward(1, ethFrame(A, B, 'x'))).toEqual([0]);
    clock.t = 300_001;
    expect(s.forward(1, ethFrame(A, B, 'x'))).toEqual([0, 2, 3]);
  });

  it('refreshes an entry each time the station sends', () => {
    const { s, clock } = sw(3, 1000);
    s.forward(0, ethFrame(BROADCAST, A, 'x'));
    clock.t = 900;
    s.forward(0, ethFrame(B, A, 'x'));
    clock.t = 1800;
    expect(s.forward(1, ethFrame(A, B, 'x'))).toEqual([0]);
  });

  it('forgets a port on flushPort', () => {
    const { s } = sw();
    s.forward(2, ethFrame(BROADCAST, A, 'x'));
    s.flushPort(2);
    expect(s.forward(1, ethFrame(A, B, 'x'))).toEqual([0, 2, 3]);
  });

  it('drops runts and bounds the MAC table', () => {
    const clock = { t: 0 };
    const s = new LearningSwitch({ ports: 3, maxMacs: 2, now: () => clock.t });
    expect(s.forward(0, Buffer.alloc(13))).toEqual([]);
    expect(s.counters.runts).toBe(1);
    s.forward(0, ethFrame(BROADCAST, A, 'x'));
    s.forward(1, ethFrame(BROADCAST, B, 'x'));
    s.forward(2, ethFrame(BROADCAST, C, 'x'));
    expect(s.macCount).toBe(2);
    // Unlearned station still reachable by flooding.
    expect(s.forward(0, ethFrame(C, A, 'x'))).toEqual([1, 2]);
  });
});
