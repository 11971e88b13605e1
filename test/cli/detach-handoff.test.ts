// What the background supervisor of `up --detach` reads from its stdin: the topology, whole, however the pipe cuts it.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readAllText } from '../../src/cli/detach.js';

describe('the detached supervisor reading its topology', () => {
  it('joins a UTF-8 character the pipe cut between two reads', async () => {
    const json = Buffer.from(JSON.stringify({ name: 'lab', note: 'ready: €uro' }));
    const cut = json.indexOf(Buffer.from('€')) + 1;
    const text = await readAllText(Readable.from([json.subarray(0, cut), json.subarray(cut)], { objectMode: false }));
    expect(JSON.parse(text)).toEqual({ name: 'lab', note: 'ready: €uro' });
  });
});
