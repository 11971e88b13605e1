// Package layers without a VM: what maintainer scripts would have done (parsers), the closure from the
// host's real apt lists (no network), an unknown package located in the file, offline with and without a
// cached layer (apt-get download made to fail as an unreachable mirror does).
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADDED_PACKAGES, parseSimulation, resolveClosure, unknownPackage } from '../../src/guest/apt-closure.js';
import { MANIFEST_FILE, fileRecord } from '../../src/guest/cache.js';
import { LAYER_FORMAT, ensureLayer, layersRoot, listLayers, pruneSuperseded, type LayerManifest } from '../../src/guest/layer.js';
import { addRef } from '../../src/guest/refs.js';
import { emptyAccounts, parsePostinst, parseSysusers, parseTmpfiles, renderAccounts } from '../../src/guest/layer-users.js';
import { TopoError } from '../../src/errors.js';
import { loadTopology } from '../../src/topology/index.js';
import { prepareLayers } from '../../src/runtime/layers.js';

const FRR_POSTINST = `#!/bin/sh
set -e
addgroup --system frrvty
addgroup --system frr
adduser \\
\t--system \\
\t--ingroup frr \\
\t--home /nonexistent \\
\t--gecos "Frr routing suite" \\
\t--no-create-home \\
\tfrr
usermod -a -G frrvty frr
quaggauid=\`id -u quagga 2>/dev/null || echo 0\`
adduser --system "$NAME"
`;

describe('what maintainer scripts would have done', () => {
  it("FRR's postinst: groups frr and frrvty, system user frr in group frr and member of frrvty", () => {
    const a = emptyAccounts();
    parsePostinst(FRR_POSTINST, a);
    const { passwd, group } = renderAccounts(a);
    expect(passwd).toBe('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nfrr:x:100:100:Frr routing suite:/nonexistent:/usr/sbin/nologin\n');
    expect(group).toBe('root:x:0:\nfrr:x:100:\nfrrvty:x:101:frr\nnogroup:x:65534:\n');
  });

  it('sysusers.d: u, g and m lines', () => {
    const a = emptyAccounts();
    parseSysusers('# comment\nu _chrony - "Chrony daemon" /var/lib/chrony\ng netdev -\nm _chrony netdev\n', a);
    expect(a.users.get('_chrony')).toEqual({ group: '_chrony', home: '/var/lib/chrony', gecos: 'Chrony daemon' });
    expect([...a.groups.get('netdev')!]).toEqual(['_chrony']);
  });

  it('tmpfiles.d d lines become runtime directories (/var/run as /run)', () => {
    expect(parseTmpfiles('# Create the /run/frr directory\nd /run/frr 0755 frr frr\nd /var/run/x - - -\nf /run/file 0644 root root\n')).toEqual([
      { path: '/run/frr', mode: '0755', user: 'frr', group: 'frr' },
      { path: '/run/x', mode: '0755', user: 'root', group: 'root' },
    ]);
  });
});

describe('the dependency closure from the host apt', () => {
  it('parses a simulated install and apt errors', () => {
    expect(parseSimulation('Inst libc6 (2.36-9 Debian:12 [amd64]) []\nConf libc6\nInst frr [8.4.3] (8.4.4-1 Debian:12 [amd64])\n')).toEqual([
      { name: 'libc6', version: '2.36-9' },
      { name: 'frr', version: '8.4.4-1' },
    ]);
    expect(unknownPackage('E: Unable to locate package frrr\n')).toEqual({ name: 'frrr' });
    expect(unknownPackage("E: Version '9.9' for 'iperf3' was not found\n")).toEqual({ name: 'iperf3', version: '9.9' });
  });

  it('iperf3: exact versions of it, its libraries and the Essential packages added on purpose', async () => {
    const pkgs = await resolveClosure(['iperf3']);
    const names = pkgs.map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['iperf3', 'libiperf0', 'libc6', ...ADDED_PACKAGES]));
    expect(names).not.toContain('perl');
    expect(pkgs.every((p) => /^[0-9][A-Za-z0-9.+~:-]*$/.test(p.version))).toBe(true);
  });

  it('without package lists (an image that dropped them): one line saying so, not "unknown package bash; did you mean bash"', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'topo-apt-'));
    const saved = process.env.APT_CONFIG;
    try {
      await mkdir(join(dir, 'lists', 'partial'), { recursive: true });
      await writeFile(join(dir, 'apt.conf'), `Dir::State::Lists "${dir}/lists/";\nDir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n`);
      process.env.APT_CONFIG = join(dir, 'apt.conf');
      const err = (await resolveClosure(['iperf3']).catch((e: unknown) => e)) as TopoError;
      expect(err).toBeInstanceOf(TopoError);
      expect(err.code).toBe('E_PACKAGE_RESOLVE');
      expect(err.message).toBe('apt has no package lists here (it cannot find bash): packages: are resolved from them');
      expect(err.hint).toMatch(/apt-get update/);
    } finally {
      if (saved === undefined) delete process.env.APT_CONFIG;
      else process.env.APT_CONFIG = saved;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an unknown package is reported at its place in the file, with a suggestion', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'topo-layer-'));
    try {
      const file = join(dir, 'lab.yaml');
      await writeFile(file, 'name: lab\ndefaults:\n  packages: [iperf3]\nnodes:\n  a:\n    packages: [tcpdump, frrr]\n');
      const res = await loadTopology(file);
      if (!res.ok) throw new Error('invalid');
      const err = await prepareLayers(res.topology, () => true).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(TopoError);
      expect((err as TopoError).oneLine()).toBe(`${file}:6:25: error: unknown package "frrr"; did you mean "frr"?`);
      expect((err as TopoError).code).toBe('E_PACKAGE_UNKNOWN');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('offline', () => {
  const saved = { ...process.env };
  let base: string;
  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'topo-layer-'));
    // apt-get -s still works offline (local lists); apt-get download fails as with an unreachable mirror.
    const bin = join(base, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'apt-get'), '#!/bin/sh\nif [ "$1" = download ]; then echo "E: Failed to fetch http://deb.debian.org/debian/pool/main/i/iperf3/iperf3_3.12-1_amd64.deb  Temporary failure resolving \'deb.debian.org\'" >&2; exit 100; fi\nexec /usr/bin/apt-get "$@"\n');
    await chmod(join(bin, 'apt-get'), 0o755);
    Object.assign(process.env, { PATH: `${bin}:${saved.PATH}`, TOPO_CACHE_DIR: join(base, 'cache') });
  });
  afterEach(async () => {
    delete process.env.TOPO_LAYER_DIR;
    Object.assign(process.env, saved);
    await rm(base, { recursive: true, force: true });
  });

  it('a set never built fails naming the packages and the apt error', async () => {
    const err = (await ensureLayer(['iperf3']).catch((e: unknown) => e)) as TopoError;
    expect(err.code).toBe('E_PACKAGE_DOWNLOAD');
    expect(err.message).toMatch(/^cannot download packages iperf3 \(\d+ with their dependencies\): apt-get download failed$/);
    expect(err.stderrTail).toContain("Temporary failure resolving 'deb.debian.org'");
  });

  async function fakeLayer(name: string, request: string[], builtAt = '2026-01-02T03:04:05.000Z'): Promise<string> {
    const dir = join(layersRoot(), name);
    await mkdir(dir, { recursive: true });
    const image = Buffer.alloc(4096, 7);
    await writeFile(join(dir, 'layer.img'), image);
    const m: LayerManifest = {
      format: LAYER_FORMAT, kind: 'topo-layer', key: name, request, packages: [{ name: 'iperf3', version: '3.9-1' }], added: [...ADDED_PACKAGES],
      image: await fileRecord('layer.img', image), users: [], groups: [], dirs: [], builtAt,
    };
    await writeFile(join(dir, MANIFEST_FILE), JSON.stringify(m));
    return dir;
  }

  it('a newer build of a list prunes its older layers unless in use; other lists stay', async () => {
    const used = await fakeLayer('used', ['iperf3']);
    await fakeLayer('unused', ['iperf3']);
    await fakeLayer('other', ['frr']);
    const keep = await fakeLayer('newest', ['iperf3'], '2026-02-01T00:00:00.000Z');
    const release = await addRef(layersRoot(), used);
    await pruneSuperseded(layersRoot(), keep, ['iperf3']);
    expect((await listLayers()).map((l) => l.manifest.key).sort()).toEqual(['newest', 'other', 'used']);
    await release?.();
  });

  it('a cached layer of the same list (other versions) serves, with a one-line notice', async () => {
    const dir = await fakeLayer('older', ['iperf3']);
    const notices: string[] = [];
    const h = await ensureLayer(['iperf3', 'iperf3'], { onNotice: (n) => notices.push(n) });
    expect(h.dir).toBe(dir);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/^cannot download packages iperf3 \(\d+ with their dependencies\): apt-get download failed; using the cached layer of iperf3 built 2026-01-02$/);
    await h.release();
  });

  it('TOPO_LAYER_DIR keeps the layers apart from the guest cache (a runner pod: read-only guest, writable layers)', async () => {
    expect(layersRoot({ TOPO_LAYER_DIR: '/l', TOPO_CACHE_DIR: '/c' })).toBe('/l');
    expect(layersRoot({ TOPO_CACHE_DIR: '/c' })).toBe('/c/layers');
    process.env.TOPO_LAYER_DIR = join(base, 'layers');
    const dir = await fakeLayer('older', ['iperf3']);
    expect(dir).toBe(join(base, 'layers', 'older'));
    const h = await ensureLayer(['iperf3'], { onNotice: () => undefined });
    expect(h.dir).toBe(dir);
    await h.release();
    expect(existsSync(join(base, 'cache'))).toBe(false);
  });
});
