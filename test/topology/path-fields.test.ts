// Host paths come from one place, the schemas' x-topo-path annotations: a path field without one fails here.
import { describe, expect, it } from 'vitest';
import { SCENARIO_SCHEMA_URL } from '../../src/scenario/load.js';
import { confinementIssues, pathFields, PATH_KEYWORD, schemaJson } from '../../src/topology/path-fields.js';
import { SCHEMA_URL } from '../../src/topology/validate.js';
import { compileSchema } from '../../src/topology/schema-code.js';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const PATHY_WORDS = /\b(file|files|directory|dir|path|image|relative to|host dir\w*)\b/i;
const PATHY_NAMES = /(file|path|dir|state|source|src|kernel|initrd|disk|vars|code|share|from|to)$/i;

/**
 * Every string-valued schema (free text: no const, enum or pattern) that reads like a host path, by its property
 * name or its description (its own, else that of the property it belongs to), and lacks x-topo-path.
 */
function unannotatedPaths(schema: unknown): string[] {
  const missing: string[] = [];
  const visit = (s: unknown, at: string, name: string, inherited: string): void => {
    if (Array.isArray(s)) return s.forEach((b, i) => visit(b, `${at}/${i}`, name, inherited));
    if (!isObj(s)) return;
    const description = typeof s.description === 'string' ? s.description : inherited;
    const freeString = s.type === 'string' && s.const === undefined && s.enum === undefined && s.pattern === undefined;
    if (freeString && (PATHY_WORDS.test(description) || PATHY_NAMES.test(name)) && s[PATH_KEYWORD] === undefined) missing.push(at);
    for (const [k, v] of Object.entries(s)) {
      if (k === 'propertyNames' || k === 'description') continue;
      if ((k === 'properties' || k === '$defs' || k === 'patternProperties') && isObj(v)) {
        for (const [pk, pv] of Object.entries(v)) visit(pv, `${at}/${k}/${pk}`, k === '$defs' ? '' : pk, '');
      } else visit(v, `${at}/${k}`, name, description);
    }
  };
  visit(schema, '', '', '');
  return missing;
}

describe('path fields of the schemas', () => {
  it('every property of the topology and scenario schemas that looks like a host path is annotated', () => {
    expect(unannotatedPaths(schemaJson(SCHEMA_URL))).toEqual([]);
    expect(unannotatedPaths(schemaJson(SCENARIO_SCHEMA_URL))).toEqual([]);
  });

  it('the check catches a path field that lost its annotation, and a new one added without it', () => {
    const schema = structuredClone(schemaJson(SCHEMA_URL)) as { $defs: { node: { properties: Record<string, Record<string, unknown>> } } };
    const tpm = schema.$defs.node.properties.tpm as { anyOf: [unknown, { properties: { state: Record<string, unknown> } }] };
    delete tpm.anyOf[1].properties.state[PATH_KEYWORD];
    schema.$defs.node.properties.shares = {
      type: 'array',
      items: { type: 'object', properties: { host: { description: 'Host directory shared with the guest.', type: 'string' }, guest: { description: 'Mount path in the guest.', type: 'string', [PATH_KEYWORD]: false } } },
    };
    // A guest path marked false is known not to be a host path: Ajv compiles it and the walker leaves it out.
    expect(() => compileSchema(JSON.stringify(schema))).not.toThrow();
    expect(pathFields(schema, { name: 'l', nodes: { a: { shares: [{ host: '/h', guest: '/g' }] } } })).toEqual([]);
    expect(unannotatedPaths(schema)).toEqual([
      '/$defs/node/properties/tpm/anyOf/1/properties/state',
      '/$defs/node/properties/shares/items/properties/host',
    ]);
  });

  it('Ajv (strict) accepts the annotation: both schemas compile', () => {
    expect(() => compileSchema(JSON.stringify(schemaJson(SCHEMA_URL)))).not.toThrow();
    expect(() => compileSchema(JSON.stringify(schemaJson(SCENARIO_SCHEMA_URL)))).not.toThrow();
  });

  it('finds every path a topology names, in defaults and nodes, and no fw_cfg string', () => {
    const doc = {
      name: 'lab',
      defaults: { disk: 'd.img' },
      nodes: {
        a: { kind: 'uefi', firmware: { code: 'c.fd', vars: '/etc/shadow' }, tpm: { state: '/srv/tpm' }, fw_cfg: { 'opt/a': 'a.bin', 'opt/b': { file: 'b.bin' }, 'opt/c': { string: 'not a path' } } },
        b: { kernel: 'k', initrd: 'i' },
        c: { files: { '/etc/a': '/etc/shadow', '/etc/b': { file: 'b.conf' }, '/etc/c': { string: 'not a path' } }, shares: [{ host: '/srv', guest: '/mnt' }] },
      },
      'x-base': { kernel: 'ignored' },
    };
    expect(pathFields(schemaJson(SCHEMA_URL), doc).map((f) => `${f.pointer}=${f.value} (${f.kind})`).sort()).toEqual([
      '/defaults/disk=d.img (file)',
      '/nodes/a/firmware/code=c.fd (file)',
      '/nodes/a/firmware/vars=/etc/shadow (file)',
      '/nodes/a/fw_cfg/opt~1a=a.bin (file)',
      '/nodes/a/fw_cfg/opt~1b/file=b.bin (file)',
      '/nodes/a/tpm/state=/srv/tpm (dir)',
      '/nodes/b/initrd=i (file)',
      '/nodes/b/kernel=k (file)',
      '/nodes/c/files/~1etc~1a=/etc/shadow (file)',
      '/nodes/c/files/~1etc~1b/file=b.conf (file)',
      '/nodes/c/shares/0/host=/srv (dir)',
    ]);
  });

  it('copy steps: host paths only, guest paths are left out', () => {
    const doc = { topology: 't.yaml', steps: [{ copy: { from: 'a:/etc/hostname', to: '/tmp/x' } }, { copy: { from: './f', to: 'a:/f' } }] };
    expect(pathFields(schemaJson(SCENARIO_SCHEMA_URL), doc).map((f) => `${f.pointer}=${f.value}`)).toEqual(['/topology=t.yaml', '/steps/0/copy/to=/tmp/x', '/steps/1/copy/from=./f']);
  });

  it('confinement: a path outside the directory is E_CONFINED at its pointer; inside (even via ..) is fine', () => {
    const doc = { name: 'lab', nodes: { a: { kind: 'uefi', disk: 'sub/../d.img', firmware: { code: 'c.fd', vars: '../../etc/shadow' } } } };
    const issues = confinementIssues(schemaJson(SCHEMA_URL), doc, '/b/bundle', '/b/bundle');
    expect(issues).toEqual([{ path: '/nodes/a/firmware/vars', code: 'E_CONFINED', message: expect.stringContaining('/etc/shadow is outside the bundle') }]);
  });
});
