// Dependency hygiene: package.json lists exactly what the shipped code imports.
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : /\.(ts|js)$/.test(e.name) ? [p] : [];
  });
}

function importedPackages(): Set<string> {
  const out = new Set<string>();
  for (const file of [...sources('src'), ...sources('bin')]) {
    const text = readFileSync(file, 'utf8');
    // Static imports and re-exports, dynamic import(), and createRequire(...)('pkg') for the native addon.
    const found = [
      ...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'/gm),
      ...text.matchAll(/^\s*import\s+'([^']+)'/gm),
      ...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g),
      ...text.matchAll(/createRequire\([^)]*\)\(\s*'([^']+)'\s*\)/g),
    ];
    for (const m of found) {
      if (m[1]?.startsWith('.')) continue;
      const spec = m[1] as string;
      if (spec.startsWith('node:') || builtinModules.includes(spec)) continue;
      out.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string));
    }
  }
  return out;
}

describe('dependencies', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };

  it('lists exactly the packages src/ and bin/ import', () => {
    expect(Object.keys(pkg.dependencies).sort()).toEqual([...importedPackages()].sort());
  });

  it('needs no Ajv format plugin: the schema uses no `format` keyword', () => {
    expect(readFileSync('schemas/topology.schema.json', 'utf8')).not.toMatch(/"format"\s*:/);
    expect(Object.keys(pkg.dependencies)).not.toContain('ajv-formats');
  });
});
