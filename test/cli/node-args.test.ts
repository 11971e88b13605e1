// `topo node` refuses wrong wiring before it starts anything: one line naming what is wrong and how to fix it.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';
import { repoRoot } from '../helpers/cli.js';

const pair = path.join(repoRoot, 'topologies/pair.yaml');
let dir: string;
let secret: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'topo-node-args-'));
  secret = path.join(dir, 'secret');
  await writeFile(secret, 'ab'.repeat(32));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const node = (...args: string[]) => runCli('node', pair, ...args, '--run-dir', path.join(dir, 'run'));

describe('topo node arguments', () => {
  it('needs a --link for every link end in another runner', async () => {
    const r = await node('a', '--secret-file', secret);
    // A usage error, like any other wrong argument.
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/a: no --link for l1@b:eth1/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses a --link the node does not have, listing the ones it has', async () => {
    const r = await node('a', '--secret-file', secret, '--link', 'l1@b:eth1=dial:127.0.0.1:1', '--link', 'l2@c:eth0=listen:2');
    expect(r.stderr).toMatch(/--link l2@c:eth0=listen:2: a has no link l2 to c:eth0/);
    expect(r.stderr).toMatch(/l1@b:eth1/);
  });

  it('refuses a malformed --link with the expected shape', async () => {
    const r = await node('a', '--secret-file', secret, '--link', 'l1@b:eth1=dial:1');
    expect(r.stderr).toMatch(/needs the peer's host/);
  });

  it('needs the secret unless every end is hello-less, and checks it is one', async () => {
    expect((await node('a', '--link', 'l1@b:eth1=dial:127.0.0.1:1')).stderr).toMatch(/--secret-file is required/);
    const bad = path.join(dir, 'bad');
    await writeFile(bad, 'not hex at all');
    expect((await node('a', '--secret-file', bad, '--link', 'l1@b:eth1=dial:127.0.0.1:1')).stderr).toMatch(/not a secret of at least 16 bytes in hex/);
  });

  it('refuses a resolved model that does not match the file', async () => {
    const resolved = path.join(dir, 'resolved.json');
    await writeFile(resolved, JSON.stringify({ name: 'pair', nodes: [], links: [] }));
    const r = await node('a', '--secret-file', secret, '--resolved', resolved, '--link', 'l1@b:eth1=dial:127.0.0.1:1');
    expect(r.stderr).toMatch(/--resolved .*resolved\.json does not match .*pair\.yaml/);
  });

  it('accepts the resolved model topo k8s render writes', async () => {
    const r = await runCli('k8s', 'render', pair, '--host-network');
    expect(r.code).toBe(0);
    const json = /resolved\.json: \|\n((?: {4}.*\n)+)/.exec(r.stdout)?.[1]?.replace(/^ {4}/gm, '');
    const resolved = path.join(dir, 'rendered.json');
    await writeFile(resolved, json ?? '');
    JSON.parse(await readFile(resolved, 'utf8'));
    // Past the checks, the runner fails on a port nobody may bind: proof that the resolved model was accepted.
    const n = await node('b', '--secret-file', secret, '--resolved', resolved, '--listen', '203.0.113.1', '--health-port', '1', '--link', 'l1@a:eth1=listen:1');
    expect(n.stderr).toMatch(/cannot serve the health port on 203\.0\.113\.1:1/);
  });
});
