// packages / files / shares (issue 19): schema, rules with positions, resolution.
import { describe, expect, it } from 'vitest';
import { validateText } from '../../src/topology/index.js';
import { guestPathProblem } from '../../src/topology/rules-guest.js';
import { FILE, errorsOf, expectOne, yaml } from './helpers.js';

/** Files are files, except paths ending in /dir (directories) or /missing* (absent). */
const kinds = (p: string) => (p.endsWith('/dir') || p.endsWith('/build') ? ('directory' as const) : p.includes('/missing') ? ('missing' as const) : ('file' as const));

function resolvedWith(text: string) {
  const res = validateText(yaml(text), FILE, { fileKind: kinds });
  if (!res.ok) throw new Error(res.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`).join('\n'));
  return res.topology;
}

function errors(text: string) {
  const res = validateText(yaml(text), FILE, { fileKind: kinds });
  return res.ok ? [] : res.diagnostics;
}

describe('packages, files, shares', () => {
  it('resolves: package lists add up (defaults first, once each), files and shares with absolute host paths', () => {
    const t = resolvedWith(`
      name: lab
      defaults: { packages: [iperf3, tcpdump] }
      nodes:
        r1:
          packages: [frr, "bird2=2.0.12-7", iperf3]
          files:
            /etc/frr/frr.conf: ./r1/frr.conf
            /etc/frr/daemons: { file: ./daemons, mode: "0640" }
            /etc/motd: { string: "lab r1\\n" }
          shares:
            - { host: ./build, guest: /mnt/build }
            - { host: ./out/dir, guest: /mnt/out, writable: true }
        r2: {}
    `);
    const [r1, r2] = t.nodes;
    expect(r1?.packages).toEqual(['iperf3', 'tcpdump', 'frr', 'bird2=2.0.12-7']);
    expect(r2?.packages).toEqual(['iperf3', 'tcpdump']);
    expect(r1?.files).toEqual([
      { path: '/etc/frr/frr.conf', source: { file: '/lab/r1/frr.conf' } },
      { path: '/etc/frr/daemons', source: { file: '/lab/daemons' }, mode: 0o640 },
      { path: '/etc/motd', source: { string: 'lab r1\n' } },
    ]);
    expect(r1?.shares).toEqual([
      { host: '/lab/build', guest: '/mnt/build', writable: false },
      { host: '/lab/out/dir', guest: '/mnt/out', writable: true },
    ]);
    expect(r2?.files).toBeUndefined();
    expect(r2?.shares).toBeUndefined();
  });

  it('a node without the fields resolves without them', () => {
    const t = resolvedWith('name: lab\nnodes: { r1: {} }\n');
    expect(t.nodes[0]).not.toHaveProperty('packages');
  });

  it('a node with its own kernel: each field is an error that says why, at its key', () => {
    const errs = errors(`
      name: lab
      nodes:
        r1:
          kernel: ./bzImage
          packages: [frr]
          files: { /etc/motd: { string: hi } }
    `);
    expect(errs.map((e) => [e.code, e.line, e.column, e.message])).toEqual([
      ['E_DEFAULT_GUEST_ONLY', 5, 5, 'node r1: packages works only on the default guest: this node boots its own kernel, and topo installs packages into its default guest\'s file system (which this node does not run); put the software into your initrd, or remove kernel:'],
      ['E_DEFAULT_GUEST_ONLY', 6, 5, 'node r1: files works only on the default guest: this node boots its own kernel, and topo installs files into its default guest\'s file system (which this node does not run); put the software into your initrd, or remove kernel:'],
    ]);
  });

  it('defaults.packages on a node with its own disk is reported at defaults', () => {
    const e = expectOne(
      `
      name: lab
      defaults: { packages: [iperf3] }
      nodes:
        fw: { kind: uefi, disk: ./disk.img }
      `,
      'E_DEFAULT_GUEST_ONLY',
      'node fw: packages works only on the default guest: this node boots its own disk',
    );
    expect([e.line, e.column]).toEqual([2, 13]);
  });

  it('guest paths must be absolute and normalised', () => {
    expect(guestPathProblem('/etc/motd')).toBeUndefined();
    expect(guestPathProblem('etc/motd')).toContain('write "/etc/motd"');
    expect(guestPathProblem('/etc/../motd')).toContain('write "/motd"');
    expect(guestPathProblem('/etc//frr/')).toContain('write "/etc/frr"');
    expect(guestPathProblem('/')).toContain('root directory');
    const e = expectOne(
      `
      name: lab
      nodes:
        r1:
          files: { "etc/./motd": { string: hi } }
      `,
      'E_GUEST_PATH',
      'files "etc/./motd": a guest path must be absolute and normalised (no "..", ".", "//" or trailing "/"); write "/etc/motd"',
    );
    expect([e.line, e.column]).toEqual([4, 14]);
    const s = errors('name: lab\nnodes:\n  r1:\n    shares: [{ host: ./build, guest: mnt }]\n');
    expect(s.map((d) => [d.code, d.line, d.column])).toEqual([['E_GUEST_PATH', 4, 38]]);
  });

  it('host paths must exist: a missing file, a directory given as a file, a missing share, a share that is a file', () => {
    const errs = errors(`
      name: lab
      nodes:
        r1:
          files:
            /etc/a: ./missing.conf
            /etc/b: { file: ./dir }
          shares:
            - { host: ./missing-dir, guest: /mnt/a }
            - { host: ./file.txt, guest: /mnt/b }
    `);
    expect(errs.map((e) => [e.code, e.line, e.message])).toEqual([
      ['E_FILE_MISSING', 5, 'node r1 files /etc/a "./missing.conf": file not found (looked for /lab/missing.conf); paths are relative to the topology file'],
      ['E_FILE_IS_DIR', 6, 'node r1 files /etc/b file "./dir": is a directory (/lab/dir); files: places single files, use shares: for a directory'],
      ['E_SHARE_MISSING', 8, 'share 1 host "./missing-dir": directory not found (looked for /lab/missing-dir); paths are relative to the topology file'],
      ['E_NOT_A_DIR', 9, 'share 2 host "./file.txt": is a file (/lab/file.txt); a share is a directory (use files: for one file)'],
    ]);
  });

  it('schema: a bad package name, a bad mode, an unknown share field', () => {
    const errs = errorsOf(`
      name: lab
      nodes:
        r1:
          packages: ["Frr Daemon"]
          files: { /etc/x: { string: x, mode: "999" } }
          shares: [{ host: ., guest: /mnt, rw: true }]
    `);
    expect(errs.map((e) => [e.line, e.path])).toEqual(
      expect.arrayContaining([
        [4, '/nodes/r1/packages/0'],
        [5, '/nodes/r1/files/~1etc~1x/mode'],
        [6, '/nodes/r1/shares/0/rw'],
      ]),
    );
  });
});
