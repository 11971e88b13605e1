// The lab file of a spread lab: one line per problem with FILE:LINE:COL and the field, the secret inline (only in a
// private file) or in a file next to it, world-writable files refused; `topo k8s render --lab-file` writes one that loads.
import { chmod, lstat, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadLabFile, parseLabFile } from '../../src/control/lab-file.js';
import { TopoError } from '../../src/errors.js';
import { topo } from '../helpers/cli.js';

const ringFile = fileURLToPath(new URL('../../topologies/ring.yaml', import.meta.url));
const hex = 'ab'.repeat(32);
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'topo-labfile-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const oneLine = async (p: Promise<unknown> | (() => unknown)) => {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(TopoError);
  return (err as TopoError).oneLine();
};

async function write(name: string, text: string, mode = 0o600): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, text);
  await chmod(file, mode);
  return file;
}

const doc = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ topo: 'lab', version: 1, lab: 'ring', epoch: 3, secret: hex, nodes: { r1: { control: 'topo-ring-r1:16000' }, r2: { control: '[::1]:16001' } }, ...extra }, null, 2);

describe('lab file', () => {
  it('loads the runners and the secret bytes', async () => {
    const f = await loadLabFile(await write('ok.json', doc()));
    expect({ lab: f.lab, epoch: f.epoch, secret: f.secret.toString('hex'), runners: f.runners.map((r) => `${r.node} ${r.host} ${r.port}`) })
      .toEqual({ lab: 'ring', epoch: 3, secret: hex, runners: ['r1 topo-ring-r1 16000', 'r2 ::1 16001'] });
  });

  it('one line per problem, at its line and column', async () => {
    const bad = doc().replace('"[::1]:16001"', '"nowhere"');
    expect(await oneLine(() => parseLabFile(bad, 'lab.json'))).toBe('lab.json:12:18: error: nodes.r2.control: "nowhere" is not HOST:PORT');
    expect(await oneLine(() => parseLabFile('{"topo": "lab",\n "version": 1,,}', 'lab.json'))).toMatch(/^lab\.json:2:15: error: the lab file is not JSON \(/);
    expect(await oneLine(() => parseLabFile(doc({ topo: 'control' }), 'l.json'))).toBe('l.json:2:11: error: topo: must be "lab" (this is not a topo lab file) (write it with `topo k8s render --lab-file FILE`)');
    expect(await oneLine(() => parseLabFile(doc({ secretFile: 's' }), 'l.json'))).toBe('l.json:1:1: error: (top): give exactly one of "secret" (hex) and "secretFile" (a path)');
    expect(await oneLine(() => parseLabFile(doc({ nodez: {} }), 'l.json'))).toMatch(/^l\.json:\d+:\d+: error: nodez: unknown field/);
    expect(await oneLine(() => parseLabFile(doc({ version: 2 }), 'l.json'))).toBe('l.json:3:14: error: version: lab file version 2 is not supported (this topo reads 1)');
  });

  it('secretFile is read relative to the lab file, as hex', async () => {
    await write('link-secret', `${hex}\n`, 0o440);
    const withFile = JSON.parse(doc()) as Record<string, unknown>;
    delete withFile.secret;
    withFile.secretFile = 'link-secret';
    // Readable by others is fine here: the secret is not in it (a ConfigMap's lab.json is 0644).
    const f = await loadLabFile(await write('by-file.json', JSON.stringify(withFile), 0o644));
    expect(f.secret.toString('hex')).toBe(hex);
    await write('bad-secret', 'not hex\n');
    withFile.secretFile = 'bad-secret';
    const file = await write('bad-file.json', JSON.stringify(withFile));
    expect(await oneLine(loadLabFile(file))).toBe(`${file}:1:142: error: secretFile: ${dir}/bad-secret does not hold a hex secret of at least 16 bytes`);
  });

  it('refuses a world-writable lab file, and an inline secret others can read', async () => {
    const ww = await write('ww.json', doc(), 0o666);
    expect(await oneLine(loadLabFile(ww))).toBe(`error: the lab file ${ww} is writable by every user (mode 666) (chmod o-w ${ww})`);
    const readable = await write('readable.json', doc(), 0o644);
    expect(await oneLine(loadLabFile(readable))).toBe(`${readable}: error: the lab file holds the lab secret but other users can read it (mode 644) (chmod 600 ${readable})`);
    // As a command says it: one line, exit 1, nothing on stdout.
    const ps = await topo(['ps', '--lab-file', readable]);
    expect({ code: ps.exitCode, out: ps.stdout, err: ps.stderr }).toEqual({ code: 1, out: '', err: `topo: ${readable}: error: the lab file holds the lab secret but other users can read it (mode 644) (chmod 600 ${readable})` });
  });

  it('topo k8s render --lab-file writes a private lab file matching the Secret, and refuses a symbolic link', async () => {
    const file = path.join(dir, 'rendered.json');
    const r = await topo(['k8s', 'render', ringFile, '--lab-file', file]);
    expect(r.exitCode).toBe(0);
    expect((await lstat(file)).mode & 0o777).toBe(0o600);
    const loaded = await loadLabFile(file);
    const secret = /link-secret: ([0-9a-f]{64})/.exec(r.stdout)![1];
    expect(loaded.secret.toString('hex')).toBe(secret);
    expect(loaded.runners.map((x) => x.address)).toEqual(['topo-ring-n1:16000', 'topo-ring-n2:16000', 'topo-ring-n3:16000', 'topo-ring-n4:16000']);
    // The ConfigMap ships the same lab with the secret left in the Secret.
    const cm = parseAllDocuments(r.stdout).map((d) => d.toJS() as { kind: string; data?: Record<string, string> }).find((o) => o.kind === 'ConfigMap')!;
    const shipped = parseLabFile(cm.data!['lab.json']!, 'lab.json');
    expect({ secretFile: shipped.secretFile, nodes: shipped.nodes, epoch: shipped.epoch }).toEqual({
      secretFile: '/etc/topo-secret/link-secret', nodes: Object.fromEntries(loaded.runners.map((x) => [x.node, { control: x.address }])), epoch: loaded.epoch,
    });
    const hn = await topo(['k8s', 'render', ringFile, '--host-network', '--lab-file', file]);
    expect((await loadLabFile(file)).runners.map((x) => x.address)).toEqual(['127.0.0.1:16000', '127.0.0.1:16001', '127.0.0.1:16002', '127.0.0.1:16003']);
    expect(hn.stdout).toContain('- --control-port\n            - "16003"');
    const target = await write('target', 'keep me');
    const link = path.join(dir, 'link.json');
    await symlink(target, link);
    const refused = await topo(['k8s', 'render', ringFile, '--lab-file', link]);
    expect({ code: refused.exitCode, err: refused.stderr, out: refused.stdout }).toEqual({
      code: 2, err: `topo: error: --lab-file ${link} is a symbolic link: refusing to write the lab secret through it (name a plain file)`, out: '',
    });
    expect(await readFile(target, 'utf8')).toBe('keep me');
  });
});
