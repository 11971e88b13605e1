// Values the kernel and QEMU would refuse late (after boot starts) are refused at validation.
import { describe, expect, it } from 'vitest';
import { kernelCmdline } from '../../src/qemu/plan.js';
import { formatDiagnostic, validateText } from '../../src/topology/index.js';
import { CMDLINE_RESERVE, KERNEL_CMDLINE_SIZE, MAX_USER_CMDLINE } from '../../src/topology/limits.js';
import { errorsOf, expectOne, resolved } from './helpers.js';

const withCmdline = (c: string) => `name: lab\nnodes:\n  r1:\n    cmdline: "${c}"\n`;

describe('kernel command line', () => {
  it('accepts cmdline up to the documented share and rejects one byte more, at the value', () => {
    expect(errorsOf(withCmdline('x'.repeat(MAX_USER_CMDLINE)))).toEqual([]);
    const e = expectOne(withCmdline('x'.repeat(MAX_USER_CMDLINE + 1)), 'E_CMDLINE_LENGTH', `node r1 cmdline: ${MAX_USER_CMDLINE + 1} bytes is too long`);
    expect([e.line, e.column]).toEqual([4, 14]);
  });

  it('counts bytes, not characters', () => {
    // 'é' is two bytes in UTF-8.
    expectOne(withCmdline('é'.repeat(MAX_USER_CMDLINE / 2 + 1)), 'E_CMDLINE_LENGTH', 'bytes is too long');
  });

  it('reserves enough for every argument topo adds itself', () => {
    const node = resolved(withCmdline('x'.repeat(MAX_USER_CMDLINE))).nodes[0];
    if (!node) throw new Error('no node');
    for (const defaultGuest of [true, false]) {
      // A 100 GHz TSC: more digits than any host has.
      const line = kernelCmdline(node, { accel: 'tcg', tscKhz: 99_999_999, defaultGuest });
      expect(Buffer.byteLength(line) + 1).toBeLessThanOrEqual(KERNEL_CMDLINE_SIZE);
      expect(Buffer.byteLength(line) - MAX_USER_CMDLINE - 1).toBeLessThanOrEqual(CMDLINE_RESERVE);
    }
  });
});

describe('ready.console', () => {
  it('a pattern over the length bound gets one message', () => {
    expectOne(`name: lab\nnodes: { r1: { ready: { console: "${'a'.repeat(1100)}" } } }\n`, 'E_REGEX', 'pattern is 1100 characters long; use at most 1024');
  });
});

describe('fw_cfg and files', () => {
  it('reserves opt/topo/ for topo, at the name', () => {
    const e = expectOne('name: lab\nnodes:\n  r1:\n    fw_cfg: { opt/topo/x: ./f }\n', 'E_FW_CFG_RESERVED', 'node r1 fw_cfg name "opt/topo/x": names under opt/topo/ are topo\'s own');
    expect([e.line, e.column]).toEqual([4, 15]);
    expect(errorsOf('name: lab\nnodes:\n  r1:\n    fw_cfg: { opt/topology/x: ./f }\n')).toEqual([]);
  });

  it('says a directory is a directory', () => {
    const res = validateText('name: lab\nnodes:\n  r1:\n    kernel: ./boot\n', '/lab/t.yaml', { fileKind: (p) => (p === '/lab/boot' ? 'directory' : 'file') });
    expect(res.ok ? [] : res.diagnostics.map((d) => d.message)).toEqual(['node r1 kernel "./boot": is a directory (/lab/boot), not a file; name a file in it']);
  });
});

describe('one line per diagnostic', () => {
  it('escapes control characters, terminal escapes and line separators from the file', () => {
    const errs = errorsOf('name: lab\nnodes:\n  r1:\n    "a\\nb\\e[2J\\u2028c\\u202e": 1\n    depends_on: ["x\\ry"]\n');
    expect(errs).toHaveLength(2);
    for (const e of errs) {
      const line = formatDiagnostic({ ...e, file: '/lab/new\nline.yaml' });
      expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202e]/);
    }
    expect(errs[0]?.message).toContain('unknown key `a\\nb\\u001b[2J\\u2028c\\u202e`');
    expect(formatDiagnostic({ ...(errs[0] as (typeof errs)[0]), file: '/lab/new\nline.yaml' })).toMatch(/^\/lab\/new\\nline\.yaml:4:5: error: /);
  });
});
