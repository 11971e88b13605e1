// The package exports its public API and nothing else, and the README's Library section describes every export.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as topo from '../../src/index.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const library = readme.slice(readme.indexOf('\n## Library\n'), readme.indexOf('\n## Topology file format'));
const indexText = readFileSync(new URL('../../src/index.ts', import.meta.url), 'utf8');

/** Every name `src/index.ts` exports, values and types (from `export { ... }`, `export type { ... }`, `export function`). */
function exportedNames(text: string): string[] {
  const lists = [...text.matchAll(/^export (?:type )?\{([^}]*)\}/gm)].flatMap((m) => m[1]!.split(','));
  const names = lists.map((n) => n.trim().replace(/^type /, '').split(' as ').pop()!.trim()).filter(Boolean);
  return [...names, ...[...text.matchAll(/^export (?:async )?function (\w+)/gm)].map((m) => m[1]!)];
}

describe('the package entry', () => {
  it('exports exactly the public values', () => {
    expect(Object.keys(topo).sort()).toEqual(
      ['TopoError', 'connect', 'download', 'ensureGuest', 'formatDiagnostic', 'isTopoError', 'junitXml', 'loadScenario', 'loadTopology', 'openBundle', 'runScenario', 'up', 'upload', 'validateText', 'writeBundle'].sort(),
    );
  });

  it('no internals: not macFor, fileExistsOnDisk, CMDLINE_RESERVE, literalPattern, planNode, buildEsp', () => {
    for (const name of ['macFor', 'fileExistsOnDisk', 'CMDLINE_RESERVE', 'literalPattern', 'planNode', 'buildEsp', 'Lab', 'RemoteLab']) expect(topo).not.toHaveProperty(name);
  });

  it("every export, types included, is named in the README's Library section", () => {
    const names = exportedNames(indexText);
    expect(names.length).toBeGreaterThan(30);
    expect(names.filter((n) => !library.includes(`\`${n}`) && !new RegExp(`[\\s,(]${n}[\\s,)]`).test(library))).toEqual([]);
  });
});
