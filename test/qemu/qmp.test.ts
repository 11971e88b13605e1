// The QMP client's line framing: an overlong reply fails its command instead of growing the runner; events stay events.
import { Duplex, PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { QmpClient } from '../../src/qemu/qmp.js';

function qmp() {
  const toQemu = new PassThrough();
  const toHost = new PassThrough();
  const client = new QmpClient(Duplex.from({ readable: toHost, writable: toQemu }), 'n1');
  return { client, toHost, toQemu };
}

describe('QmpClient framing', () => {
  it('rejects the oldest command when its reply is overlong, skips an overlong event, and goes on', async () => {
    const { client, toHost, toQemu } = qmp();
    const events: string[] = [];
    client.on('event', (e) => events.push(e.event));
    toHost.write('{"QMP": {"version": {}}}\n');
    const connected = client.connect();
    await new Promise((r) => toQemu.once('data', r));
    toHost.write('{"return": {}}\n');
    await connected;
    const big = client.execute('query-huge');
    const next = client.execute('query-status');
    const pad = 'x'.repeat(1 << 20);
    toHost.write('{"event": "HUGE", "data": "');
    for (let i = 0; i < 17; i++) toHost.write(pad);
    toHost.write('"}\n{"return": {"data": "');
    for (let i = 0; i < 17; i++) toHost.write(pad);
    // A multi-byte character split across writes still arrives whole.
    const ok = Buffer.from('{"event": "ÉVÉNEMENT"}\n{"return": {"status": "running"}}\n');
    toHost.write(Buffer.concat([Buffer.from('"}}\n'), ok.subarray(0, 13)]));
    toHost.write(ok.subarray(13));
    await expect(big).rejects.toMatchObject({ code: 'E_QMP', message: expect.stringContaining('QMP reply longer than') });
    expect(await next).toEqual({ status: 'running' });
    expect(events).toEqual(['ÉVÉNEMENT']);
    client.close();
  });
});
